//! Rate-limited warnings. A client that sends garbage can do so on every frame; logging each
//! would let one bad client flood the server log (and cost a write per frame). Instead each
//! connection logs its first protocol error at once, then at most one per interval, each with
//! the count of errors held back since the last line, and the remaining count when it closes.

use std::time::Duration;

/// At most one protocol-error warning per connection this often.
pub const PROTOCOL_WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Decides which events of a series get a log line.
#[derive(Debug)]
pub struct LogLimit {
    interval_ms: u64,
    last_logged_ms: Option<u64>,
    suppressed: u64,
}

impl LogLimit {
    pub fn new(interval: Duration) -> LogLimit {
        LogLimit { interval_ms: interval.as_millis() as u64, last_logged_ms: None, suppressed: 0 }
    }

    /// An event at `now_ms` (any monotonic clock). `Some(n)`: log it, mentioning the `n`
    /// events held back before it; `None`: hold it back.
    pub fn admit(&mut self, now_ms: u64) -> Option<u64> {
        match self.last_logged_ms {
            Some(last) if now_ms.saturating_sub(last) < self.interval_ms => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last_logged_ms = Some(now_ms);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }

    /// Events held back since the last line (when the series ends).
    pub fn take_suppressed(&mut self) -> u64 {
        std::mem::take(&mut self.suppressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_event_logs_then_one_per_interval_with_the_held_back_count() {
        let mut limit = LogLimit::new(Duration::from_secs(10));
        assert_eq!(limit.admit(5), Some(0));
        assert_eq!(limit.admit(6), None);
        assert_eq!(limit.admit(10_004), None);
        assert_eq!(limit.admit(10_005), Some(2));
        assert_eq!(limit.admit(10_006), None);
        assert_eq!(limit.take_suppressed(), 1);
        assert_eq!(limit.take_suppressed(), 0);
        assert_eq!(limit.admit(30_000), Some(0));
    }
}
