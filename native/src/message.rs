//! One message judged and split: clean (it breaks none of the loader's rules, read
//! conservatively) with its columns, or left for the full SQL rules.

use crate::columns::{Fixed, Text};
use crate::json::{document, Field, Kind, Leaf, Reader};
use crate::time::{local_micros, utc_seconds};

const KNOWN: [&[u8]; 4] = [
    b"Starting Match",
    b"Game Timed Out",
    b"Attack Completed",
    b"Attacked Dead Enemy",
];
const START: &[u8] = b"Starting Match";
const ATTACK: &[u8] = b"Attack Completed";
const UINT16_MAX: u64 = 65_535;

const fn leaf(key: &'static [u8], slot: usize) -> Field {
    Field {
        key,
        slot,
        inner: &[],
    }
}

/// The value's members the rules read.
const VALUE: &[Field] = &[
    leaf(b"level", 0),
    leaf(b"timestamp", 1),
    leaf(b"name", 2),
    leaf(b"log_message", 3),
    leaf(b"task", 4),
];
/// The task's members the rules read (slots 0..=12).
const TASK: &[Field] = &[
    leaf(b"TIMESTAMP", 0),
    Field {
        key: b"PAYLOAD",
        slot: 1,
        inner: &[
            leaf(b"GAME_TOKEN", 2),
            leaf(b"USER_TOKEN", 3),
            leaf(b"PARTICIPANTS", 4),
            leaf(b"PARTICIPANTS_HEROS", 5),
        ],
    },
    Field {
        key: b"STATUS",
        slot: 6,
        inner: &[
            leaf(b"ACTION", 7),
            Field {
                key: b"DETAILS",
                slot: 8,
                inner: &[
                    leaf(b"ENEMY_TOKEN", 9),
                    leaf(b"ENEMY_DAMAGE", 10),
                    leaf(b"ENEMY_HEALTH_PRIOR", 11),
                    leaf(b"ENEMY_HEALTH_POST", 12),
                ],
            },
        ],
    },
];
const HERO: &[Field] = &[leaf(b"id", 0), leaf(b"attack", 1), leaf(b"health", 2)];

/// The output of a batch: one row per message (NULLs where not clean), one per participant.
pub struct Batch {
    pub clean: Vec<u8>,
    pub level: Text,
    pub name: Text,
    pub log_message: Text,
    pub ts_local_us: Fixed<i64>,
    pub ts_task_s: Fixed<i64>,
    /// game_token, user_token, action, enemy_token
    pub tokens: [Text; 4],
    /// enemy_damage, enemy_health_prior, enemy_health_post (attacks only)
    pub numbers: [Fixed<u64>; 3],
    pub participants: Participants,
    /// How many messages were read in one of the producer's layouts.
    pub canonical_rows: usize,
    inner: Vec<u8>,
}

/// Lobby rows of the clean matches: the message's row, the participant's place (from 1),
/// its token and its hero's id, attack and health.
pub struct Participants {
    pub row: Vec<i64>,
    pub p_index: Vec<i64>,
    pub user_token: Text,
    pub hero: [Vec<u64>; 3],
}

/// What a clean message's task gives.
#[derive(Default)]
struct Task<'t> {
    ts: i64,
    tokens: [Option<&'t [u8]>; 4],
    numbers: Option<[u64; 3]>,
    /// (token, id, attack, health)
    participants: Vec<(&'t [u8], [u64; 3])>,
}

impl Batch {
    pub fn with_capacity(rows: usize) -> Self {
        let text = |bytes| Text::with_capacity(rows, rows * bytes);
        Batch {
            clean: Vec::with_capacity(rows),
            level: text(8),
            name: text(24),
            log_message: text(20),
            ts_local_us: Fixed::with_capacity(rows),
            ts_task_s: Fixed::with_capacity(rows),
            tokens: [text(36), text(36), text(8), text(36)],
            numbers: [(); 3].map(|_| Fixed::with_capacity(rows)),
            participants: Participants {
                row: Vec::new(),
                p_index: Vec::new(),
                user_token: Text::with_capacity(rows / 8, rows * 4),
                hero: [Vec::new(), Vec::new(), Vec::new()],
            },
            canonical_rows: 0,
            inner: Vec::with_capacity(1024),
        }
    }

    /// Judges the message at `row` and adds its row; `canonical` tries the producer's own
    /// layouts first (see `canonical.rs`), else every message meets the general reader.
    pub fn push(&mut self, row: usize, doc: &[u8], canonical: bool) {
        let mut inner = std::mem::take(&mut self.inner);
        let clean = match canonical.then(|| read_canonical(doc)).flatten() {
            Some(clean) => {
                self.canonical_rows += 1;
                Some(clean)
            }
            None => read_general(doc, &mut inner),
        };
        match clean {
            Some(clean) => self.push_clean(row, clean),
            None => self.push_unclean(),
        }
        self.inner = inner;
    }

    fn push_clean(&mut self, row: usize, clean: Clean) {
        self.clean.push(1);
        self.level.push(Some(clean.level));
        self.name.push(Some(clean.name));
        self.log_message.push(Some(clean.message));
        self.ts_local_us.push(Some(clean.ts_local));
        self.ts_task_s.push(clean.task.as_ref().map(|t| t.ts));
        let task = clean.task.unwrap_or_default();
        for (column, value) in self.tokens.iter_mut().zip(task.tokens) {
            column.push(value);
        }
        for (k, column) in self.numbers.iter_mut().enumerate() {
            column.push(task.numbers.map(|n| n[k]));
        }
        let p = &mut self.participants;
        for (index, (token, hero)) in task.participants.iter().enumerate() {
            p.row.push(row as i64);
            p.p_index.push(index as i64 + 1);
            p.user_token.push(Some(token));
            for (column, value) in p.hero.iter_mut().zip(hero) {
                column.push(*value);
            }
        }
    }

    fn push_unclean(&mut self) {
        self.clean.push(0);
        for column in [&mut self.level, &mut self.name, &mut self.log_message] {
            column.push(None);
        }
        self.ts_local_us.push(None);
        self.ts_task_s.push(None);
        self.tokens.iter_mut().for_each(|c| c.push(None));
        self.numbers.iter_mut().for_each(|c| c.push(None));
    }
}

/// A clean message's columns.
struct Clean<'a> {
    level: &'a [u8],
    name: &'a [u8],
    message: &'a [u8],
    ts_local: i64,
    /// A known message's task; None for others.
    task: Option<Task<'a>>,
}

/// A message in one of the producer's layouts, read from the spans `canonical` found.
fn read_canonical(doc: &[u8]) -> Option<Clean<'_>> {
    use crate::canonical::*;
    let spans = read(doc)?;
    let text = |slot: usize| spans[slot].map(|(from, to)| &doc[from..to]);
    let message = text(MESSAGE)?;
    let known = KNOWN.contains(&message);
    let task = if known {
        let mut task = Task {
            ts: utc_seconds(text(TASK_TIMESTAMP)?)?,
            tokens: [0, 1, 2, 3].map(|k| text(TOKENS + k)),
            ..Task::default()
        };
        if message == ATTACK {
            // The layout has every token; its integers are 1 to 19 digits: they fit.
            let number = |k| std::str::from_utf8(text(NUMBERS + k)?).ok()?.parse().ok();
            task.numbers = Some([number(0)?, number(1)?, number(2)?]);
        }
        Some(task)
    } else {
        None
    };
    Some(Clean {
        level: text(LEVEL)?,
        name: text(NAME)?,
        message,
        ts_local: local_micros(text(TIMESTAMP)?)?,
        task,
    })
}

/// Any message, read with the general reader; None unless it is clean.
fn read_general<'a>(doc: &'a [u8], inner: &'a mut Vec<u8>) -> Option<Clean<'a>> {
    let mut slots = [None; 5];
    document(doc, VALUE, &mut slots)?;
    let [level, ts, name, message, task] = slots;
    let message = Leaf::plain(message, doc)?;
    let task = task.filter(|t| t.kind != Kind::Null)?;
    let task = if KNOWN.contains(&message) {
        let Kind::Str { .. } = task.kind else {
            return None;
        };
        crate::json::unescape(task.bytes(doc), inner);
        Some(read_task(inner, message)?)
    } else {
        None
    };
    Some(Clean {
        level: Leaf::plain(level, doc)?,
        name: Leaf::plain(name, doc)?,
        message,
        ts_local: local_micros(Leaf::plain(ts, doc)?)?,
        task,
    })
}

/// A known message's task (its JSON text, unescaped), or None if it is not clean.
fn read_task<'t>(inner: &'t [u8], message: &[u8]) -> Option<Task<'t>> {
    let mut slots = [None; 13];
    document(inner, TASK, &mut slots)?;
    let [ts, _, game, user, parts, heroes, _, action, _, enemy, damage, prior, post] = slots;
    let ts = utc_seconds(Leaf::plain(ts, inner)?)?;
    let tokens = [game, user, action, enemy].map(|leaf| Leaf::plain(leaf, inner));
    let mut task = Task {
        ts,
        tokens,
        ..Task::default()
    };
    if message == ATTACK {
        if tokens.iter().any(Option::is_none) {
            return None;
        }
        task.numbers = Some([
            uint(damage, inner)?,
            uint(prior, inner)?,
            uint(post, inner)?,
        ]);
    } else if message == START {
        tokens[0]?;
        task.participants = participants(inner, parts?, heroes?)?;
    }
    Some(task)
}

fn uint(leaf: Option<Leaf>, doc: &[u8]) -> Option<u64> {
    let leaf = leaf.filter(|l| l.kind == Kind::UInt)?;
    std::str::from_utf8(leaf.bytes(doc)).ok()?.parse().ok()
}

/// Every participant with its hero, or None unless all are clean (and there is one).
fn participants(inner: &[u8], parts: Leaf, heroes: Leaf) -> Option<Vec<(&[u8], [u64; 3])>> {
    if parts.kind != Kind::Arr || heroes.kind != Kind::Obj {
        return None;
    }
    // Each hero's id, attack and health, read with the map in one pass.
    let mut map: Vec<(&[u8], [Option<Leaf>; 3])> = Vec::with_capacity(4);
    Reader::new(inner, heroes.start).object(0, |reader, key| {
        // The reader refuses a repeated or escaped key: each hero's token is its key's bytes.
        let mut hero = [None; 3];
        reader.shaped(1, HERO, &mut hero)?;
        map.push((key.bytes(inner), hero));
        Some(())
    })?;
    let mut out: Vec<(&[u8], [u64; 3])> = Vec::with_capacity(map.len());
    Reader::new(inner, parts.start).array(0, |part| {
        let token = Leaf::plain(Some(part), inner)?;
        if out.iter().any(|(t, _)| *t == token) {
            return None; // the same player twice: quarantined by the full rules
        }
        let [id, attack, health] = map.iter().find(|(k, _)| *k == token)?.1;
        let id = uint(id, inner).filter(|id| *id <= UINT16_MAX)?;
        out.push((token, [id, uint(attack, inner)?, uint(health, inner)?]));
        Some(())
    })?;
    (!out.is_empty()).then_some(out)
}
