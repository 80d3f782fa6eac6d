//! The producer's own layout, matched byte for byte: most messages are read without a
//! JSON parser at all.
//!
//! The game server writes every message with Python's `json.dumps` defaults, so its bytes
//! follow a few fixed layouts: known keys in a known order, `", "` and `": "` between them,
//! and the task's JSON escaped inside a string. A message that is exactly one of these
//! layouts (every byte either a literal of the layout, or a string without escapes, quotes
//! or control characters, or a plain integer) is valid JSON with no repeated or escaped
//! keys, so what the general reader (`json.rs`) would give is known without running it.
//! Anything else (other spacing or key order, an escape in a value, a match, which has
//! lists and maps) goes to the general reader. tests/test_native.py checks the two agree.

use crate::json::special_at;

#[derive(Clone, Copy)]
enum Part {
    /// These exact bytes.
    Lit(&'static [u8]),
    /// A string's text up to its closing quote: no escapes, no control characters.
    Str(usize),
    /// The same, inside the task's escaped JSON: up to the escaped quote that closes it.
    Inner(usize),
    /// A JSON integer of 1 to 19 digits inside the task's escaped JSON.
    Uint(usize),
}

use Part::{Inner, Lit, Str, Uint};

pub const LEVEL: usize = 0;
pub const TIMESTAMP: usize = 1;
pub const NAME: usize = 2;
pub const MESSAGE: usize = 3;
pub const TASK_TIMESTAMP: usize = 4;
/// game_token, user_token, action, enemy_token: slots 5 to 8.
pub const TOKENS: usize = 5;
/// enemy_damage, enemy_health_prior, enemy_health_post: slots 9 to 11.
pub const NUMBERS: usize = 9;
const IGNORED: usize = 12;
pub const SLOTS: usize = 13;

const HEAD: &[Part] = &[
    Lit(br#"{"level": ""#),
    Str(LEVEL),
    Lit(br#"", "timestamp": ""#),
    Str(TIMESTAMP),
    Lit(br#"", "name": ""#),
    Str(NAME),
    Lit(br#"", "log_message": ""#),
    Str(MESSAGE),
    Lit(br#"", "task": "#),
];
/// The start every known message's task shares: its time and its game.
const TASK_START: &[Part] = &[
    Lit(br#""{\"TIMESTAMP\": \""#),
    Inner(TASK_TIMESTAMP),
    Lit(br#"\", \"PAYLOAD\": {\"GAME_TOKEN\": \""#),
    Inner(TOKENS),
];
/// What the two game messages share next: the player, the action, the enemy's token.
const GAME_TASK: &[Part] = &[
    Lit(br#"\", \"USER_TOKEN\": \""#),
    Inner(TOKENS + 1),
    Lit(br#"\"}, \"STATUS\": {\"ACTION\": \""#),
    Inner(TOKENS + 2),
    Lit(br#"\", \"DETAILS\": {\"ENEMY_TOKEN\": \""#),
    Inner(TOKENS + 3),
];
const ATTACK_END: &[Part] = &[
    Lit(br#"\", \"ENEMY_DAMAGE\": "#),
    Uint(NUMBERS),
    Lit(br#", \"ENEMY_HEALTH_PRIOR\": "#),
    Uint(NUMBERS + 1),
    Lit(br#", \"ENEMY_HEALTH_POST\": "#),
    Uint(NUMBERS + 2),
    Lit(br#"}}}"}"#),
];
const DEAD_ENEMY_END: &[Part] = &[
    Lit(br#"\", \"ENEMY_STATUS\": \""#),
    Inner(IGNORED),
    Lit(br#"\"}}}"}"#),
];
const TIMED_OUT_END: &[Part] = &[
    Lit(br#"\"}, \"STATUS\": {\"GAME\": \""#),
    Inner(IGNORED),
    Lit(br#"\"}}"}"#),
];
/// 'Cleaning Game Records' is not a known message: its task is only checked to be there.
const CLEANING: &[Part] = &[
    Lit(br#"{"game_token": ""#),
    Str(IGNORED),
    Lit(br#"", "user_token": ""#),
    Str(IGNORED),
    Lit(br#""}}"#),
];

/// The spans (start, end) of a message's values by slot, None where its layout has none.
pub type Spans = [Option<(usize, usize)>; SLOTS];

/// The spans of a message in one of the layouts; None if it is in none of them.
pub fn read(doc: &[u8]) -> Option<Spans> {
    let mut spans = [None; SLOTS];
    let at = read_parts(doc, 0, HEAD, &mut spans)?;
    let (from, to) = spans[MESSAGE]?;
    let task: &[&[Part]] = match &doc[from..to] {
        b"Attack Completed" => &[TASK_START, GAME_TASK, ATTACK_END],
        b"Attacked Dead Enemy" => &[TASK_START, GAME_TASK, DEAD_ENEMY_END],
        b"Game Timed Out" => &[TASK_START, TIMED_OUT_END],
        b"Cleaning Game Records" => &[CLEANING],
        _ => return None,
    };
    let end = task
        .iter()
        .try_fold(at, |at, parts| read_parts(doc, at, parts, &mut spans))?;
    (end == doc.len()).then_some(spans)
}

fn read_parts(doc: &[u8], mut at: usize, parts: &[Part], spans: &mut Spans) -> Option<usize> {
    for part in parts {
        match *part {
            Lit(bytes) => {
                if !doc[at..].starts_with(bytes) {
                    return None;
                }
                at += bytes.len();
            }
            Str(slot) | Inner(slot) => {
                // The first quote, backslash or control character must close the string:
                // a quote outside the task, an escaped quote inside it.
                let end = at + special_at(&doc[at..])?;
                let closes = match part {
                    Str(_) => doc[end] == b'"',
                    _ => doc[end] == b'\\' && doc.get(end + 1) == Some(&b'"'),
                };
                if !closes {
                    return None;
                }
                spans[slot] = Some((at, end));
                at = end;
            }
            Uint(slot) => {
                let digits = doc[at..].iter().take_while(|b| b.is_ascii_digit()).count();
                if digits == 0 || digits > 19 || (digits > 1 && doc[at] == b'0') {
                    return None;
                }
                spans[slot] = Some((at, at + digits));
                at += digits;
            }
        }
    }
    Some(at)
}
