//! Order statistics over measured samples: the latency percentiles the load client and the
//! SRP ceiling report, in an HDR histogram (`hdrhistogram`: 3 significant digits, so a
//! reported value is within 0.1% of a measured one, in constant memory however long the run),
//! and the median of repeated runs the SRP ceiling reports.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Significant decimal digits the histogram keeps: 0.1% resolution.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Latencies recorded in nanoseconds, asked for percentiles.
#[derive(Debug, Clone)]
pub struct Latencies(Histogram<u64>);

/// The histogram could not be made (hdrhistogram refuses the precision asked for).
#[derive(Debug, thiserror::Error)]
#[error("the latency histogram cannot be made: {0}")]
pub struct HistogramError(#[from] hdrhistogram::CreationError);

impl Latencies {
    pub fn new() -> Result<Self, HistogramError> {
        Ok(Self(Histogram::new(SIGNIFICANT_DIGITS)?))
    }

    pub fn from_samples(
        samples: impl IntoIterator<Item = Duration>,
    ) -> Result<Self, HistogramError> {
        let mut latencies = Self::new()?;
        for sample in samples {
            latencies.record(sample);
        }
        Ok(latencies)
    }

    pub fn record(&mut self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        // The histogram grows to any value up to i64::MAX / 2 ns (146 years); beyond, clamp.
        if self.0.record(ns).is_err() {
            self.0.saturating_record(ns);
        }
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `p`-th percentile (`p` in 0..=100, clamped; NaN counts as 0): the value of rank
    /// ⌈p/100 · n⌉ (nearest rank), so p99 of 100 samples is the 99th smallest, p100 the
    /// largest and p0 the smallest, each to 0.1%. Zero when there are no samples.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 100.0) };
        Duration::from_nanos(self.0.value_at_quantile(p / 100.0))
    }

    pub fn max(&self) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.0.max())
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

    /// Equal to 0.1%, the histogram's resolution.
    fn close(a: Duration, b: Duration) -> bool {
        a.abs_diff(b).as_secs_f64() <= b.as_secs_f64() * 1e-3
    }

    #[test]
    fn nearest_rank_of_a_hundred() {
        // 1..=100 ms, shuffled: p50 is the 50th, p99 the 99th, p100 the largest.
        let l = Latencies::from_samples((1..=100).rev().map(ms)).unwrap();
        assert_eq!(l.len(), 100);
        for (p, want) in [(50.0, 50), (99.0, 99), (100.0, 100), (0.0, 1)] {
            assert!(
                close(l.percentile(p), ms(want)),
                "p{p}: {:?}",
                l.percentile(p)
            );
        }
        assert!(close(l.max(), ms(100)));
    }

    #[test]
    fn a_tail_shows_in_p99_of_few_samples() {
        // With 10 samples, p99 must be the single slow one, not be rounded away.
        let mut samples = vec![ms(1); 9];
        samples.push(ms(500));
        let l = Latencies::from_samples(samples).unwrap();
        assert!(close(l.percentile(50.0), ms(1)));
        assert!(close(l.percentile(99.0), ms(500)));
    }

    #[test]
    fn empty_and_out_of_range() {
        assert_eq!(Latencies::new().unwrap().percentile(50.0), Duration::ZERO);
        assert_eq!(Latencies::new().unwrap().max(), Duration::ZERO);
        assert!(Latencies::new().unwrap().is_empty());
        let l = Latencies::from_samples([ms(3), ms(7)]).unwrap();
        assert!(close(l.percentile(250.0), ms(7)));
        assert!(close(l.percentile(-5.0), ms(3)));
        assert!(close(l.percentile(f64::NAN), ms(3)));
        // Nanoseconds to hours, in one histogram.
        let wide =
            Latencies::from_samples([Duration::from_nanos(1), Duration::from_secs(3600)]).unwrap();
        assert_eq!(wide.percentile(0.0), Duration::from_nanos(1));
        assert!(close(wide.max(), Duration::from_secs(3600)));
    }

    #[test]
    fn median_is_a_measured_value() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5.0]), Some(5.0));
        assert_eq!(median(&[9.0, 1.0, 5.0]), Some(5.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.0));
    }
}
