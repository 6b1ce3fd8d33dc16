//! How logon attempts ended (as the audit records them): since start, per client build, and
//! per second for the last minute. The logon state counts each outcome where it decides it;
//! the console, the systemd STATUS line and `/metrics` read the table.

use std::collections::VecDeque;

use crate::protocol::version::Build;
use crate::store::LoginOutcome;

const OUTCOMES: usize = LoginOutcome::ALL.len();
/// Builds counted apart at most; beyond, attempts are counted under [`OTHER_BUILDS`].
const MAX_BUILDS: usize = 32;
/// Where attempts of builds not counted apart go.
pub const OTHER_BUILDS: Build = Build(u16::MAX);

/// Logon outcomes (as the audit records them): since start, and per second for a minute.
#[derive(Debug, Default, Clone)]
pub struct OutcomeCounts {
    total: [u64; OUTCOMES],
    /// Since start, per build. A build gets a row of its own only with an outcome other than
    /// `version_invalid` (which any sender of any number can cause), so the rows are bounded
    /// by the accepted builds, not by what clients send.
    by_build: Vec<(Build, [u64; OUTCOMES])>,
    /// (unix second, counts in that second), oldest first, at most 60 seconds back.
    recent: VecDeque<(i64, [u32; OUTCOMES])>,
}

impl OutcomeCounts {
    pub fn record(&mut self, outcome: LoginOutcome, build: Build, now: i64) {
        let Some(i) = LoginOutcome::ALL.iter().position(|o| *o == outcome) else {
            return;
        };
        self.total[i] += 1;
        let row = match self.by_build.iter().position(|(b, _)| *b == build) {
            Some(at) => at,
            None if outcome != LoginOutcome::VersionInvalid && self.by_build.len() < MAX_BUILDS => {
                self.by_build.push((build, [0; OUTCOMES]));
                self.by_build.len() - 1
            }
            None => match self.by_build.iter().position(|(b, _)| *b == OTHER_BUILDS) {
                Some(at) => at,
                None => {
                    self.by_build.push((OTHER_BUILDS, [0; OUTCOMES]));
                    self.by_build.len() - 1
                }
            },
        };
        if let Some(n) = self.by_build.get_mut(row).and_then(|(_, c)| c.get_mut(i)) {
            *n += 1;
        }
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

    /// (build, outcome, since start) for every build seen and every outcome, zeros included.
    pub fn by_build(&self) -> impl Iterator<Item = (Build, LoginOutcome, u64)> + '_ {
        self.by_build.iter().flat_map(|(build, counts)| {
            LoginOutcome::ALL
                .iter()
                .zip(counts)
                .map(move |(o, n)| (*build, *o, *n))
        })
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
        c.record(LoginOutcome::Success, Build(12340), 100);
        c.record(LoginOutcome::Success, Build(12340), 100);
        c.record(LoginOutcome::WrongPassword, Build(5875), 130);
        c.record(LoginOutcome::Success, Build(12340), 170);
        let table = c.table(170);
        assert_eq!(table[0], (LoginOutcome::Success, 3, 1));
        assert_eq!(table[1], (LoginOutcome::WrongPassword, 1, 1));
        let of = |build, outcome| {
            c.by_build()
                .find(|(b, o, _)| *b == build && *o == outcome)
                .map(|(_, _, n)| n)
        };
        assert_eq!(of(Build(12340), LoginOutcome::Success), Some(3));
        assert_eq!(of(Build(12340), LoginOutcome::WrongPassword), Some(0));
        assert_eq!(of(Build(5875), LoginOutcome::WrongPassword), Some(1));
    }

    #[test]
    fn builds_nobody_accepts_share_one_row() {
        let mut c = OutcomeCounts::default();
        for build in 1..1000 {
            c.record(LoginOutcome::VersionInvalid, Build(build), 100);
        }
        c.record(LoginOutcome::Success, Build(12340), 100);
        c.record(LoginOutcome::VersionInvalid, Build(12340), 100);
        let builds: Vec<Build> = c
            .by_build()
            .filter(|(_, o, _)| *o == LoginOutcome::VersionInvalid)
            .map(|(b, _, _)| b)
            .collect();
        assert_eq!(builds, vec![OTHER_BUILDS, Build(12340)]);
        let other = c
            .by_build()
            .find(|(b, o, _)| *b == OTHER_BUILDS && *o == LoginOutcome::VersionInvalid);
        assert_eq!(other.map(|(_, _, n)| n), Some(999));
    }
}
