//! The simulated clock: real time scaled by a speed factor, plus explicit steps. Speed 0 freezes it, so
//! tests move time only by stepping.

use std::time::Instant;

use jiff::{SignedDuration, Timestamp};

/// Simulated time.
#[derive(Debug)]
pub struct Clock {
    /// Simulated time at `anchor`.
    base: Timestamp,
    /// Real instant at which `base` was simulated time.
    anchor: Instant,
    /// Simulated seconds per real second.
    speed: f64,
}

impl Clock {
    /// A clock starting at `start` and running at `speed`.
    pub fn new(start: Timestamp, speed: f64) -> Self {
        Self {
            base: start,
            anchor: Instant::now(),
            speed: speed.max(0.0),
        }
    }

    /// The current simulated time.
    pub fn now(&self) -> Timestamp {
        let elapsed = self.anchor.elapsed().as_secs_f64() * self.speed;
        self.base
            .saturating_add(SignedDuration::from_secs_f64(elapsed))
            .unwrap_or(self.base)
    }

    /// Simulated seconds per real second.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Changes the speed from now on, keeping the current time.
    pub fn set_speed(&mut self, speed: f64) {
        self.base = self.now();
        self.anchor = Instant::now();
        self.speed = speed.max(0.0);
    }

    /// Moves time forward.
    pub fn step(&mut self, by: SignedDuration) {
        self.base = self.now().saturating_add(by.abs()).unwrap_or(self.base);
        self.anchor = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frozen_clock_moves_only_when_stepped() {
        let start = Timestamp::from_second(1_700_000_000).expect("timestamp");
        let mut clock = Clock::new(start, 0.0);
        assert_eq!(clock.now(), start);
        clock.step(SignedDuration::from_mins(5));
        assert_eq!(clock.now(), start + SignedDuration::from_mins(5));
    }
}
