//! How logon attempts ended (as the audit records them): since start, and per second for the
//! last minute. The logon state counts each outcome where it decides it; the console and the
//! systemd STATUS line read the table.

use std::collections::VecDeque;

use crate::store::LoginOutcome;

const OUTCOMES: usize = LoginOutcome::ALL.len();

/// Logon outcomes (as the audit records them): since start, and per second for a minute.
#[derive(Debug, Default, Clone)]
pub struct OutcomeCounts {
    total: [u64; OUTCOMES],
    /// (unix second, counts in that second), oldest first, at most 60 seconds back.
    recent: VecDeque<(i64, [u32; OUTCOMES])>,
}

impl OutcomeCounts {
    pub fn record(&mut self, outcome: LoginOutcome, now: i64) {
        let Some(i) = LoginOutcome::ALL.iter().position(|o| *o == outcome) else {
            return;
        };
        self.total[i] += 1;
        match self.recent.back_mut() {
            Some((second, counts)) if *second == now => counts[i] += 1,
            _ => {
                let mut counts = [0; OUTCOMES];
                counts[i] = 1;
                self.recent.push_back((now, counts));
            }
        }
        while self.recent.front().is_some_and(|(s, _)| now - s >= 60) {
            self.recent.pop_front();
        }
    }

    /// (outcome, since start, in the last minute) for every outcome seen.
    pub fn table(&self, now: i64) -> Vec<(LoginOutcome, u64, u64)> {
        LoginOutcome::ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| self.total[*i] > 0)
            .map(|(i, o)| {
                let minute: u64 = self
                    .recent
                    .iter()
                    .filter(|(s, _)| now - s < 60)
                    .map(|(_, c)| u64::from(c[i]))
                    .sum();
                (*o, self.total[i], minute)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_count_since_start_and_for_the_last_minute() {
        let mut c = OutcomeCounts::default();
        c.record(LoginOutcome::Success, 100);
        c.record(LoginOutcome::Success, 100);
        c.record(LoginOutcome::WrongPassword, 130);
        c.record(LoginOutcome::Success, 170);
        let table = c.table(170);
        assert_eq!(table[0], (LoginOutcome::Success, 3, 1));
        assert_eq!(table[1], (LoginOutcome::WrongPassword, 1, 1));
    }
}
