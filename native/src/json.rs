//! A strict, allocation-free JSON reader that validates a whole document and hands back
//! the spans of the fields asked for.
//!
//! It is deliberately narrower than JSON: anything it is unsure how DuckDB would read
//! (`\u` escapes, exponents, very long numbers, deep nesting, escaped or repeated keys in
//! an object we look into) is refused, and a refused message goes to the full SQL rules,
//! which decide it. So a refusal costs speed, never correctness.

const MAX_DEPTH: u32 = 32;
const MAX_NUMBER_LEN: usize = 40;

/// Bytes that end a run of ordinary string bytes: a quote, a backslash, a control character.
const SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A string; `escaped` if it holds any backslash escape.
    Str {
        escaped: bool,
    },
    /// A JSON integer of 1 to 19 digits, no sign: it fits a uint64.
    UInt,
    /// Any other number.
    Num,
    Obj,
    Arr,
    Bool,
    Null,
}

/// One value of a document: for a string, the bytes between its quotes; else the token.
#[derive(Clone, Copy, Debug)]
pub struct Leaf {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

impl Leaf {
    pub fn bytes<'a>(&self, doc: &'a [u8]) -> &'a [u8] {
        &doc[self.start..self.end]
    }

    /// The text of a string with no escapes (the only strings taken as they stand).
    pub fn plain(leaf: Option<Leaf>, doc: &[u8]) -> Option<&[u8]> {
        match leaf {
            Some(
                l @ Leaf {
                    kind: Kind::Str { escaped: false },
                    ..
                },
            ) => Some(l.bytes(doc)),
            _ => None,
        }
    }
}

pub struct Reader<'a> {
    doc: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(doc: &'a [u8], at: usize) -> Self {
        Reader { doc, at }
    }

    fn peek(&self) -> Option<u8> {
        self.doc.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// True if only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.skip_space();
        self.at == self.doc.len()
    }

    pub fn value(&mut self, depth: u32) -> Option<Leaf> {
        let start = self.at;
        let kind = match self.peek()? {
            b'"' => return self.string(),
            b'{' => {
                self.object(depth, |_, _| Some(()))?;
                Kind::Obj
            }
            b'[' => {
                self.array(depth, |_| Some(()))?;
                Kind::Arr
            }
            b't' => self.literal(b"true", Kind::Bool)?,
            b'f' => self.literal(b"false", Kind::Bool)?,
            b'n' => self.literal(b"null", Kind::Null)?,
            b'-' | b'0'..=b'9' => self.number()?,
            _ => return None,
        };
        Some(Leaf {
            kind,
            start,
            end: self.at,
        })
    }

    fn literal(&mut self, word: &[u8], kind: Kind) -> Option<Kind> {
        if self.doc[self.at..].starts_with(word) {
            self.at += word.len();
            Some(kind)
        } else {
            None
        }
    }

    fn digits(&mut self) -> usize {
        let from = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        self.at - from
    }

    fn number(&mut self) -> Option<Kind> {
        let start = self.at;
        let signed = self.peek() == Some(b'-');
        self.at += signed as usize;
        let whole = match self.peek()? {
            b'0' => {
                self.at += 1;
                1
            }
            b'1'..=b'9' => self.digits(),
            _ => return None,
        };
        let mut fraction = false;
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return None;
            }
            fraction = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) || self.at - start > MAX_NUMBER_LEN {
            return None;
        }
        Some(if !signed && !fraction && whole <= 19 {
            Kind::UInt
        } else {
            Kind::Num
        })
    }

    fn string(&mut self) -> Option<Leaf> {
        self.at += 1;
        let start = self.at;
        let mut escaped = false;
        loop {
            // A tight loop over ordinary bytes: JSON strings here are short (tokens, keys),
            // where a table lookup per byte beats starting a SIMD search per string.
            let run = self.doc[self.at..]
                .iter()
                .position(|&b| SPECIAL[b as usize])?;
            self.at += run;
            match self.doc[self.at] {
                b'"' => {
                    self.at += 1;
                    return Some(Leaf {
                        kind: Kind::Str { escaped },
                        start,
                        end: self.at - 1,
                    });
                }
                b'\\' => match *self.doc.get(self.at + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                        escaped = true;
                        self.at += 2;
                    }
                    _ => return None, // \u (surrogates are DuckDB's to judge) or invalid
                },
                _ => return None, // a raw control character: not JSON
            }
        }
    }

    /// Reads an object, calling `field(key, value)` for each member; None if invalid.
    pub fn object(
        &mut self,
        depth: u32,
        mut field: impl FnMut(Leaf, Leaf) -> Option<()>,
    ) -> Option<()> {
        if depth >= MAX_DEPTH || self.peek()? != b'{' {
            return None;
        }
        self.at += 1;
        self.skip_space();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            self.skip_space();
            if self.peek()? != b':' {
                return None;
            }
            self.at += 1;
            self.skip_space();
            let value = self.value(depth + 1)?;
            field(key, value)?;
            self.skip_space();
            match self.peek()? {
                b',' => {
                    self.at += 1;
                    self.skip_space();
                }
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Reads an array, calling `item(value)` for each element; None if invalid.
    pub fn array(&mut self, depth: u32, mut item: impl FnMut(Leaf) -> Option<()>) -> Option<()> {
        if depth >= MAX_DEPTH || self.peek()? != b'[' {
            return None;
        }
        self.at += 1;
        self.skip_space();
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            let value = self.value(depth + 1)?;
            item(value)?;
            self.skip_space();
            match self.peek()? {
                b',' => {
                    self.at += 1;
                    self.skip_space();
                }
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// The members `keys` of the object `leaf` in `doc` (already validated), in that order.
///
/// All absent if `leaf` is absent or not an object, as a JSON path would give. None (refuse
/// the message) if a key asked for appears twice or any key is escaped: which one a path
/// reads is DuckDB's to say.
pub fn fields<const K: usize>(
    doc: &[u8],
    leaf: Option<Leaf>,
    keys: [&[u8]; K],
) -> Option<[Option<Leaf>; K]> {
    match leaf {
        Some(
            leaf @ Leaf {
                kind: Kind::Obj, ..
            },
        ) => members(&mut Reader::new(doc, leaf.start), keys),
        _ => Some([None; K]),
    }
}

/// The members `keys` of a whole document that must be one object and nothing after it.
pub fn document<const K: usize>(doc: &[u8], keys: [&[u8]; K]) -> Option<[Option<Leaf>; K]> {
    let mut reader = Reader::new(doc, 0);
    let found = members(&mut reader, keys)?;
    reader.at_end().then_some(found)
}

fn members<const K: usize>(reader: &mut Reader, keys: [&[u8]; K]) -> Option<[Option<Leaf>; K]> {
    let doc = reader.doc;
    let mut found = [None; K];
    reader.object(0, |key, value| {
        if key.kind != (Kind::Str { escaped: false }) {
            return None;
        }
        if let Some(k) = keys.iter().position(|k| *k == key.bytes(doc)) {
            if found[k].replace(value).is_some() {
                return None;
            }
        }
        Some(())
    })?;
    Some(found)
}

/// A string's text with its (simple) escapes undone, into `out`.
pub fn unescape(text: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut rest = text;
    while let Some(at) = memchr::memchr(b'\\', rest) {
        out.extend_from_slice(&rest[..at]);
        out.push(match rest.get(at + 1) {
            Some(b'b') => 0x08,
            Some(b'f') => 0x0c,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(&other) => other, // " \ /
            None => return,
        });
        rest = &rest[(at + 2).min(rest.len())..];
    }
    out.extend_from_slice(rest);
}
