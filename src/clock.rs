//! The operator's sense of time. In production it is the system clock. Integration tests that simulate
//! days in minutes run the operator with a hidden `--simulated-clock SIM@REAL*SPEED` flag: time is `SIM` at
//! the real instant `REAL` and runs `SPEED` times faster — the same clock obsim runs, so schedules fall due
//! when the simulated cluster reaches them. Durations the operator waits (a requeue until the next run)
//! are converted back to real time; grace periods that guard against a statement still in flight are
//! stretched, since a statement takes real time whatever the clock says.

use std::{
    sync::OnceLock,
    time::{Duration, SystemTime},
};

use jiff::{SignedDuration, Timestamp};

/// A clock running `speed` times real time from `simulated` at the real time `real`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Simulated {
    simulated: Timestamp,
    real: Timestamp,
    speed: f64,
}

impl std::str::FromStr for Simulated {
    type Err = String;

    /// `2026-11-28T18:00:00Z@2026-11-22T13:50:01.250Z*3600`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let shape =
            || format!("{text:?} is not SIMULATED@REAL*SPEED (RFC 3339 times, a speed ≥ 1)");
        let (simulated, rest) = text.split_once('@').ok_or_else(shape)?;
        let (real, speed) = rest.split_once('*').ok_or_else(shape)?;
        let speed: f64 = speed.parse().map_err(|_| shape())?;
        if !speed.is_finite() || speed < 1.0 {
            return Err(shape());
        }
        Ok(Self {
            simulated: simulated.parse().map_err(|_| shape())?,
            real: real.parse().map_err(|_| shape())?,
            speed,
        })
    }
}

static SIMULATED: OnceLock<Simulated> = OnceLock::new();

/// Makes the whole process run on a simulated clock (once, before anything reads the time).
pub fn simulate(clock: Simulated) {
    let _ = SIMULATED.set(clock);
}

/// The current time.
pub fn now() -> Timestamp {
    let real = Timestamp::try_from(SystemTime::now()).unwrap_or(Timestamp::UNIX_EPOCH);
    match SIMULATED.get() {
        None => real,
        Some(clock) => {
            let elapsed = real.duration_since(clock.real).as_secs_f64() * clock.speed;
            clock
                .simulated
                .saturating_add(SignedDuration::from_secs_f64(elapsed))
                .unwrap_or(clock.simulated)
        }
    }
}

/// `at` rounded down to the minute: a window that starts a fixed span before now keeps one start for a
/// minute, so a read that names it asks the same as the read before (and reuses its statements).
pub fn minute_floor(at: Timestamp) -> Timestamp {
    let second = at.as_second();
    Timestamp::from_second(second - second.rem_euclid(60)).unwrap_or(at)
}

/// How long to really wait for `span` of the operator's time to pass.
pub fn real(span: Duration) -> Duration {
    match SIMULATED.get() {
        None => span,
        Some(clock) => span.div_f64(clock.speed),
    }
}

/// How many times faster than real time the operator's clock runs (1 unless simulated).
pub fn speed() -> f64 {
    SIMULATED.get().map_or(1.0, |clock| clock.speed)
}

/// A safety margin of `span` in real time, in the operator's time.
pub fn margin(span: SignedDuration) -> SignedDuration {
    match SIMULATED.get() {
        None => span,
        Some(clock) => SignedDuration::from_secs_f64(span.as_secs_f64() * clock.speed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_parses_and_bad_shapes_are_refused() {
        let clock: Simulated = "2026-11-28T18:00:00Z@2026-11-22T13:50:01.25Z*3600"
            .parse()
            .expect("parses");
        assert_eq!(clock.speed, 3600.0);
        assert_eq!(clock.simulated.to_string(), "2026-11-28T18:00:00Z");
        for bad in [
            "2026-11-28T18:00:00Z",
            "2026-11-28T18:00:00Z@2026-11-22T13:50:01Z",
            "2026-11-28T18:00:00Z@2026-11-22T13:50:01Z*0.5",
            "2026-11-28T18:00:00Z@yesterday*10",
        ] {
            assert!(bad.parse::<Simulated>().is_err(), "{bad}");
        }
    }

    #[test]
    fn without_simulation_time_is_the_system_clock() {
        // No test in this binary simulates the clock.
        let before = Timestamp::now();
        let now = now();
        assert!(now >= before && now <= Timestamp::now());
        assert_eq!(real(Duration::from_secs(5)), Duration::from_secs(5));
        assert_eq!(
            margin(SignedDuration::from_secs(5)),
            SignedDuration::from_secs(5)
        );
    }
}
