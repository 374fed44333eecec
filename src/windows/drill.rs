//! The two rules of a restore drill that need no cluster: which point of the recoverable windows a drill
//! restores to, and what its freshness check concludes from the newest write found in the restored data.
//! A drill's RecoveryTask records the point it chose when it is created, so a restart never chooses again.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

use jiff::{SignedDuration, Timestamp};

use super::Window;

/// Which point a drill restores to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointChoice {
    /// The newest restorable point.
    Latest,
    /// A point anywhere in the windows, so that old points get tested too.
    Random,
}

/// The SCN a drill restores to, or `None` when there is no window. `Random` spreads its choice over every
/// restorable SCN of every window, by `seed` (the drill run's uid): the same seed chooses the same point.
pub fn drill_point(windows: &[Window], choice: PointChoice, seed: &str) -> Option<u64> {
    let newest = windows.iter().map(|w| w.to_scn).max()?;
    if choice == PointChoice::Latest {
        return Some(newest);
    }
    let width = |w: &Window| u128::from(w.to_scn.saturating_sub(w.from_scn)) + 1;
    let total: u128 = windows.iter().map(width).sum();
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(seed);
    let mut offset = u128::from(hash) % total;
    for window in windows {
        if offset < width(window) {
            return u64::try_from(offset).ok().map(|o| window.from_scn + o);
        }
        offset -= width(window);
    }
    Some(newest)
}

/// What a drill's freshness check concludes: how far the restored data's newest write lies behind the
/// point asked for, against the bound the strategy declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// The data is as of `asked − lag`, within the bound.
    Within { lag: SignedDuration },
    /// The data is older than the bound allows.
    TooOld {
        lag: SignedDuration,
        bound: SignedDuration,
    },
    /// The restored data holds a write newer than the point asked for: the restore went past it.
    Ahead { by: SignedDuration },
    /// The freshness query found no write at all.
    Empty,
}

impl Freshness {
    /// The verdict for data whose newest write is `newest`, restored to `asked`, with `bound` allowed.
    pub fn of(asked: Timestamp, newest: Option<Timestamp>, bound: SignedDuration) -> Self {
        let Some(newest) = newest else {
            return Self::Empty;
        };
        let lag = asked.duration_since(newest);
        if lag.is_negative() {
            Self::Ahead { by: -lag }
        } else if lag > bound {
            Self::TooOld { lag, bound }
        } else {
            Self::Within { lag }
        }
    }

    /// Whether the drill passes on it.
    pub fn passed(&self) -> bool {
        matches!(self, Self::Within { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows() -> Vec<Window> {
        vec![
            Window {
                from_scn: 100,
                to_scn: 199,
            },
            Window {
                from_scn: 500,
                to_scn: 549,
            },
        ]
    }

    #[test]
    fn the_latest_point_is_the_newest_restorable_scn_and_no_window_gives_none() {
        assert_eq!(drill_point(&windows(), PointChoice::Latest, "a"), Some(549));
        assert_eq!(drill_point(&[], PointChoice::Latest, "a"), None);
        assert_eq!(drill_point(&[], PointChoice::Random, "a"), None);
    }

    #[test]
    fn a_random_point_lies_inside_a_window_is_the_same_for_a_seed_and_reaches_every_window() {
        let windows = windows();
        let inside = |scn: u64| {
            windows
                .iter()
                .any(|w| (w.from_scn..=w.to_scn).contains(&scn))
        };
        let mut in_each = [0; 2];
        for n in 0..400 {
            let seed = format!("uid-{n}");
            let point = drill_point(&windows, PointChoice::Random, &seed).expect("a point");
            assert!(inside(point), "{point} of {seed} lies in no window");
            assert_eq!(
                drill_point(&windows, PointChoice::Random, &seed),
                Some(point),
                "a restart chooses the same point"
            );
            in_each[usize::from(point >= 500)] += 1;
        }
        // 100 of the 150 restorable SCNs lie in the first window: both get chosen, in about that proportion.
        assert!(in_each.iter().all(|&n| n > 0), "{in_each:?}");
        assert!(in_each[0] > in_each[1], "{in_each:?}");
    }

    #[test]
    fn a_window_of_one_point_is_chosen_exactly() {
        let one = [Window {
            from_scn: 7,
            to_scn: 7,
        }];
        assert_eq!(drill_point(&one, PointChoice::Random, "x"), Some(7));
    }

    #[test]
    fn freshness_measures_the_lag_behind_the_point_and_fails_past_the_bound_or_ahead_of_it() {
        let at = |s: i64| Timestamp::from_second(1_800_000_000 + s).expect("time");
        let bound = SignedDuration::from_secs(60);
        let within = Freshness::of(at(100), Some(at(70)), bound);
        assert_eq!(
            within,
            Freshness::Within {
                lag: SignedDuration::from_secs(30)
            }
        );
        assert!(within.passed());
        assert!(Freshness::of(at(100), Some(at(100)), bound).passed());
        assert!(
            Freshness::of(at(100), Some(at(40)), bound).passed(),
            "at the bound"
        );
        assert_eq!(
            Freshness::of(at(100), Some(at(39)), bound),
            Freshness::TooOld {
                lag: SignedDuration::from_secs(61),
                bound
            }
        );
        assert_eq!(
            Freshness::of(at(100), Some(at(105)), bound),
            Freshness::Ahead {
                by: SignedDuration::from_secs(5)
            }
        );
        assert_eq!(Freshness::of(at(100), None, bound), Freshness::Empty);
        assert!(!Freshness::of(at(100), None, bound).passed());
    }
}
