//! Order statistics over measured samples: the percentiles the load client reports and the
//! median of repeated runs the SRP ceiling reports. Nearest rank on the sorted samples, so a
//! reported value is always one that was measured.

use std::time::Duration;

/// Samples (latencies), sorted once, asked for percentiles many times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sorted(Vec<Duration>);

impl Sorted {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self(samples)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `p`-th percentile (`p` in 0..=100, clamped): the sample of rank ⌈p/100 · n⌉
    /// (nearest rank), so p99 of 100 samples is the 99th smallest, p100 the largest and p0
    /// the smallest. Zero when there are no samples.
    pub fn percentile(&self, p: f64) -> Duration {
        let n = self.0.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 100.0) };
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.0[rank.clamp(1, n) - 1]
    }

    pub fn max(&self) -> Duration {
        self.0.last().copied().unwrap_or(Duration::ZERO)
    }
}

/// The median of a few numbers (the middle one; the lower middle of an even count, so it is
/// always a measured value). `None` for none. NaNs sort last.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let n = sorted.len();
    (n > 0).then(|| sorted[(n - 1) / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn nearest_rank_of_a_hundred() {
        // 1..=100 ms, shuffled: p50 is the 50th, p99 the 99th, p100 the largest.
        let samples: Vec<Duration> = (1..=100).rev().map(ms).collect();
        let sorted = Sorted::new(samples);
        assert_eq!(sorted.percentile(50.0), ms(50));
        assert_eq!(sorted.percentile(99.0), ms(99));
        assert_eq!(sorted.percentile(100.0), ms(100));
        assert_eq!(sorted.percentile(0.0), ms(1));
        assert_eq!(sorted.max(), ms(100));
    }

    #[test]
    fn a_tail_shows_in_p99_of_few_samples() {
        // With 10 samples, p99 must be the single slow one, not be rounded away.
        let mut samples = vec![ms(1); 9];
        samples.push(ms(500));
        let sorted = Sorted::new(samples);
        assert_eq!(sorted.percentile(50.0), ms(1));
        assert_eq!(sorted.percentile(99.0), ms(500));
    }

    #[test]
    fn empty_and_out_of_range() {
        assert_eq!(Sorted::default().percentile(50.0), Duration::ZERO);
        assert_eq!(Sorted::default().max(), Duration::ZERO);
        let sorted = Sorted::new(vec![ms(3), ms(7)]);
        assert_eq!(sorted.percentile(250.0), ms(7));
        assert_eq!(sorted.percentile(-5.0), ms(3));
        assert_eq!(sorted.percentile(f64::NAN), ms(3));
    }

    #[test]
    fn median_is_a_measured_value() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5.0]), Some(5.0));
        assert_eq!(median(&[9.0, 1.0, 5.0]), Some(5.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.0));
    }
}
