//! The one approval check: the rules every approval obeys, as a pure function of what the
//! approver read (the request, its status, the tenant's policy) and what the approver asks to
//! give. The front end runs it before it prompts, the customer's client before it releases
//! anything (with the policy of the signed manifest), and the vault again inside the
//! transaction that commits the grant (with the policy it holds). Each rule and its message are
//! written here once.

use super::RequestStatus;
use super::id_hex;
use crate::store::records::RequestRecord;
use crate::vault::{Error, MAX_DURATION_SECS};

/// What the approver asks to give: levels (default: every level requested) and a duration
/// (default: as requested).
#[derive(Debug, Clone, Copy, Default)]
pub struct Ask<'a> {
    /// The levels to release, or `None` for all the request names.
    pub levels: Option<&'a [String]>,
    /// How long, or `None` for what the request asked.
    pub duration_secs: Option<u64>,
}

/// What an approval gives, once every rule holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    /// The levels released, in the order asked.
    pub levels: Vec<String>,
    /// The access's length in seconds.
    pub duration_secs: u64,
}

/// The tenant's policy an approval is judged by.
#[derive(Debug, Clone, Copy)]
pub struct Limits<'a> {
    /// The tenant's name (for messages).
    pub tenant: &'a str,
    /// Longest access a grant of the tenant may give, in seconds.
    pub max_access_secs: u64,
}

/// Decides an approval: `approver` may approve `request` (in `status`) for what `ask` asks,
/// under `limits`. Refuses an approver who filed the request, a request not pending, a level
/// not requested or listed twice (or a request naming one twice: altered), no level at all,
/// and a duration longer than requested or than the policy allows.
pub fn decide(
    request: &RequestRecord,
    status: RequestStatus,
    approver: &str,
    limits: Limits<'_>,
    ask: Ask<'_>,
) -> Result<Terms, Error> {
    if request.engineer == approver {
        return Err(Error::denied(format!(
            "access denied: {} filed this request and cannot approve it",
            request.engineer
        )));
    }
    if status != RequestStatus::Pending {
        return Err(Error::conflict(format!(
            "request {} is {}, not pending",
            id_hex(&request.id),
            status.name()
        )));
    }
    let levels = chosen_levels(request, ask.levels)?;
    let duration_secs = match ask.duration_secs {
        Some(d) if d > request.duration_secs => {
            return Err(Error::usage(format!(
                "the request asked for {}; approval cannot give more",
                crate::format::duration(request.duration_secs)
            )));
        }
        Some(d) => d,
        None => request.duration_secs,
    };
    check_duration(duration_secs, limits)?;
    Ok(Terms { levels, duration_secs })
}

/// The levels an approval releases: `levels`, each requested and none twice, or all the
/// request names.
fn chosen_levels(request: &RequestRecord, levels: Option<&[String]>) -> Result<Vec<String>, Error> {
    for (i, level) in request.levels.iter().enumerate() {
        if request.levels[..i].contains(level) {
            return Err(Error::integrity(format!("the request names level {level:?} twice: it was altered")));
        }
    }
    let Some(levels) = levels else { return Ok(request.levels.clone()) };
    if levels.is_empty() {
        return Err(Error::usage("approve at least one level, or deny the request"));
    }
    let mut out: Vec<String> = Vec::new();
    for level in levels {
        if !request.levels.contains(level) {
            return Err(Error::usage(format!(
                "level {level:?} was not requested (requested: {})",
                request.levels.join(", ")
            )));
        }
        if out.contains(level) {
            return Err(Error::usage(format!("level {level:?} is listed twice")));
        }
        out.push(level.clone());
    }
    Ok(out)
}

/// An access duration is 1 second to 30 days, and within the tenant's policy: for a request as
/// for its approval.
pub(crate) fn check_duration(duration: u64, limits: Limits<'_>) -> Result<(), Error> {
    if duration == 0 || duration > MAX_DURATION_SECS {
        return Err(Error::usage("the access duration must be between 1 second and 30 days"));
    }
    if duration > limits.max_access_secs {
        return Err(Error::usage(format!(
            "{} is longer than tenant {:?} allows ({})",
            crate::format::duration(duration),
            limits.tenant,
            crate::format::duration(limits.max_access_secs)
        ))
        .with_remedy(crate::vault::Remedy::Policy { tenant: limits.tenant.to_owned() }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::Decision;
    use crate::vault::ErrorKind;

    fn request() -> RequestRecord {
        RequestRecord {
            id: [1; 16],
            tenant: "acme".into(),
            engineer: "eve".into(),
            levels: vec!["internal".into(), "secret".into()],
            reason: "r".into(),
            case_id: "c".into(),
            duration_secs: 3600,
            created: 0,
            expires: 10,
            decision: Decision::Pending,
            decided: None,
            decided_by: None,
            decision_reason: None,
            grant: None,
        }
    }

    const LIMITS: Limits<'static> = Limits { tenant: "acme", max_access_secs: 7200 };

    fn kind(r: Result<Terms, Error>) -> ErrorKind {
        r.unwrap_err().kind
    }

    #[test]
    fn each_rule_refuses_on_its_own() {
        let r = request();
        let pending = RequestStatus::Pending;
        let all = decide(&r, pending, "alice", LIMITS, Ask::default()).unwrap();
        assert_eq!(all, Terms { levels: r.levels.clone(), duration_secs: 3600 });
        let one = ["secret".to_string()];
        let ask = Ask { levels: Some(&one), duration_secs: Some(60) };
        assert_eq!(decide(&r, pending, "alice", LIMITS, ask).unwrap().levels, one);

        assert_eq!(kind(decide(&r, pending, "eve", LIMITS, Ask::default())), ErrorKind::AccessDenied);
        assert_eq!(
            kind(decide(&r, RequestStatus::Expired, "alice", LIMITS, Ask::default())),
            ErrorKind::Conflict
        );
        let twice = ["secret".to_string(), "secret".to_string()];
        assert_eq!(
            kind(decide(&r, pending, "alice", LIMITS, Ask { levels: Some(&twice), ..Ask::default() })),
            ErrorKind::Usage
        );
        let other = ["public".to_string()];
        assert_eq!(
            kind(decide(&r, pending, "alice", LIMITS, Ask { levels: Some(&other), ..Ask::default() })),
            ErrorKind::Usage
        );
        assert_eq!(
            kind(decide(&r, pending, "alice", LIMITS, Ask { levels: Some(&[]), ..Ask::default() })),
            ErrorKind::Usage
        );
        let more = Ask { duration_secs: Some(3601), ..Ask::default() };
        assert_eq!(kind(decide(&r, pending, "alice", LIMITS, more)), ErrorKind::Usage);
        let zero = Ask { duration_secs: Some(0), ..Ask::default() };
        assert_eq!(kind(decide(&r, pending, "alice", LIMITS, zero)), ErrorKind::Usage);
        let tight = Limits { tenant: "acme", max_access_secs: 1800 };
        let e = decide(&r, pending, "alice", tight, Ask::default()).unwrap_err();
        assert!(e.message.contains("longer than tenant \"acme\" allows (30m)"), "{}", e.message);
        let mut altered = request();
        altered.levels.push("secret".into());
        assert_eq!(kind(decide(&altered, pending, "alice", LIMITS, Ask::default())), ErrorKind::Integrity);
    }
}
