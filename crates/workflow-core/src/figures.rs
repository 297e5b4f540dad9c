//! What the figures mean: each rate's numerator and denominator, in one place, for the API,
//! the board and the console alike.

/// 及时率 of one SLA clock: the cycles that stopped by their deadline, over the cycles that
/// stopped and those breached and still running. A request that breached is late whether or
/// not it has closed; one still running and not yet due is neither (it may still be on time).
pub fn on_time_rate(on_time: i64, stopped: i64, breached_open: i64) -> Option<f64> {
    ratio(on_time, stopped + breached_open)
}

/// 满意率: the residents' ratings of 4 or 5 stars over the residents' ratings. Only the
/// resident's word counts (or the word of who entered the request for them and relays it): a
/// mediator's rating of a dispute at the visit is not satisfaction.
pub fn satisfaction_rate(satisfied: i64, rated: i64) -> Option<f64> {
    ratio(satisfied, rated)
}

/// `a ÷ b`, none when there is nothing to divide by.
pub fn ratio(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_breach_still_open_counts_as_late() {
        // Four closed on time, four breached and still open: half, not all.
        assert_eq!(on_time_rate(4, 4, 4), Some(0.5));
        assert_eq!(on_time_rate(0, 0, 0), None);
        assert_eq!(on_time_rate(0, 0, 2), Some(0.0));
    }
}
