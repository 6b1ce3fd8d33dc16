//! A duration histogram cheap enough for the loop's hot path: one increment into a
//! power-of-two bucket (in microseconds) and two additions per sample, no allocation, no
//! atomics. The loop's pass times and the store's job latencies are kept in one each; the
//! console reads percentiles from it and `/metrics` exposes it as a Prometheus histogram.

use std::time::Duration;

/// Buckets: bucket `i` holds samples below 2^(i+1) µs (the first also holds 0 and 1 µs).
const BUCKETS: usize = 32;

/// Durations in power-of-two buckets of microseconds, with their count and sum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Log2Histogram {
    buckets: [u64; BUCKETS],
    count: u64,
    sum_micros: u64,
}

impl Log2Histogram {
    pub fn record(&mut self, sample: Duration) {
        let micros = u64::try_from(sample.as_micros()).unwrap_or(u64::MAX);
        let bucket = (63 - micros.max(1).leading_zeros()) as usize;
        let last = BUCKETS - 1;
        if let Some(b) = self.buckets.get_mut(bucket.min(last)) {
            *b += 1;
        }
        self.count += 1;
        self.sum_micros = self.sum_micros.saturating_add(micros);
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The samples added up.
    pub fn sum(&self) -> Duration {
        Duration::from_micros(self.sum_micros)
    }

    /// The mean sample (zero before the first).
    pub fn mean(&self) -> Duration {
        Duration::from_micros(self.sum_micros.checked_div(self.count).unwrap_or(0))
    }

    /// The upper bound of the bucket holding the `p`-th percentile (0..=100); zero before
    /// the first sample.
    pub fn percentile(&self, p: f64) -> Duration {
        let want = ((p / 100.0) * self.count as f64).ceil() as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= want.max(1) {
                return Duration::from_micros(1u64 << (i + 1).min(63));
            }
        }
        Duration::ZERO
    }

    /// Buckets for an exposition: (upper bound in seconds, samples in that bucket alone), for
    /// the bounds 2 µs … 2^`top` µs. The encoder adds them up; what lies above the last is
    /// only in the count (the `+Inf` bucket).
    pub fn buckets_seconds(&self, top: u32) -> Vec<(f64, u64)> {
        self.buckets
            .iter()
            .take(top.min(BUCKETS as u32) as usize)
            .enumerate()
            .map(|(i, n)| ((1u64 << (i + 1)) as f64 / 1e6, *n))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_buckets() {
        let mut h = Log2Histogram::default();
        for _ in 0..90 {
            h.record(Duration::from_micros(3));
        }
        for _ in 0..10 {
            h.record(Duration::from_millis(5));
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.percentile(50.0), Duration::from_micros(4));
        assert_eq!(h.percentile(99.0), Duration::from_micros(8192));
        assert_eq!(h.sum(), Duration::from_micros(90 * 3 + 10 * 5000));
    }

    #[test]
    fn exposed_buckets_stop_at_the_top_and_the_rest_is_only_counted() {
        let mut h = Log2Histogram::default();
        h.record(Duration::ZERO);
        h.record(Duration::from_micros(3));
        h.record(Duration::from_secs(3600));
        let b = h.buckets_seconds(4);
        assert_eq!(b.len(), 4);
        assert_eq!(b[0], (2e-6, 1));
        assert_eq!(b[1], (4e-6, 1));
        assert_eq!(b[3], (16e-6, 0));
        assert_eq!(b.iter().map(|(_, n)| n).sum::<u64>(), 2);
        assert_eq!(h.count(), 3);
        // A sample past every bucket lands in the last, never out of bounds.
        h.record(Duration::MAX);
        assert_eq!(h.count(), 4);
    }
}
