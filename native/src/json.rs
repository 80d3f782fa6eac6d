//! A strict, allocation-free JSON reader that validates a whole document and hands back
//! the spans of the fields asked for.
//!
//! It is deliberately narrower than JSON: anything it is unsure how DuckDB would read
//! (`\u` escapes, exponents, very long numbers, deep nesting, an escaped key, a key twice
//! in one object, an object of very many keys) is refused, and a refused message goes to
//! the full SQL rules, which decide it (a repeated key is quarantined: readers disagree on
//! which value counts). So a refusal costs speed, never correctness.

use std::mem::MaybeUninit;

const MAX_DEPTH: u32 = 32;
const MAX_NUMBER_LEN: usize = 40;
/// Keys of one object compared for repeats, each with those before it: objects here have
/// a handful of keys (a match's heroes map one per player), so a quadratic scan is cheap.
const MAX_KEYS: usize = 64;

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
                self.object(depth, |reader, _| reader.value(depth + 1).map(drop))?;
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
            self.at += special_at(&self.doc[self.at..])?;
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

    /// Reads an object; `member(reader, key)` reads each member's value. None if invalid.
    pub fn object(
        &mut self,
        depth: u32,
        mut member: impl FnMut(&mut Self, Leaf) -> Option<()>,
    ) -> Option<()> {
        if !self.open(depth, b'{', b'}')? {
            return Some(());
        }
        // Spans of the keys read so far; left uninitialised (this runs for every object).
        let mut keys = [const { MaybeUninit::<(u32, u32)>::uninit() }; MAX_KEYS];
        let mut seen = 0;
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            // Unescaped keys are equal exactly when their bytes are; escaped ones are refused.
            let text = Leaf::plain(Some(key), self.doc)?;
            let repeated = keys[..seen].iter().any(|span| {
                // Safety: the first `seen` spans were written below.
                let (from, to) = unsafe { span.assume_init() };
                let other = &self.doc[from as usize..to as usize];
                // Most keys differ in length or first byte: no call to memcmp for those.
                other.len() == text.len() && other.first() == text.first() && other == text
            });
            if repeated || seen == MAX_KEYS {
                return None;
            }
            keys[seen].write((key.start as u32, key.end as u32));
            seen += 1;
            self.skip_space();
            if self.peek()? != b':' {
                return None;
            }
            self.at += 1;
            self.skip_space();
            member(self, key)?;
            if !self.next(b'}')? {
                return Some(());
            }
        }
    }

    /// Reads an array, calling `item(value)` for each element; None if invalid.
    pub fn array(&mut self, depth: u32, mut item: impl FnMut(Leaf) -> Option<()>) -> Option<()> {
        if !self.open(depth, b'[', b']')? {
            return Some(());
        }
        loop {
            let value = self.value(depth + 1)?;
            item(value)?;
            if !self.next(b']')? {
                return Some(());
            }
        }
    }

    /// Past a container's opening bracket: true if an item follows, false if it is empty.
    fn open(&mut self, depth: u32, open: u8, close: u8) -> Option<bool> {
        if depth >= MAX_DEPTH || self.peek()? != open {
            return None;
        }
        self.at += 1;
        self.skip_space();
        let empty = self.peek()? == close;
        self.at += empty as usize;
        Some(!empty)
    }

    /// Past an item: true if another follows (a comma), false at the closing bracket.
    fn next(&mut self, close: u8) -> Option<bool> {
        self.skip_space();
        let more = match self.peek()? {
            b',' => true,
            c if c == close => false,
            _ => return None,
        };
        self.at += 1;
        if more {
            self.skip_space();
        }
        Some(more)
    }

    /// Reads a value; if it is an object, puts the members `shape` names in their slots,
    /// looking into nested objects as the shape says, all in this one pass.
    ///
    /// A member's slots stay empty where the value is not an object, as a JSON path gives.
    /// None (refuse the message) if the document is invalid, or `object` refuses a key.
    pub fn shaped(
        &mut self,
        depth: u32,
        shape: &[Field],
        slots: &mut [Option<Leaf>],
    ) -> Option<Leaf> {
        if shape.is_empty() || self.peek()? != b'{' {
            return self.value(depth);
        }
        let start = self.at;
        self.object(depth, |reader, key| {
            let key = key.bytes(reader.doc);
            match shape.iter().find(|field| field.key == key) {
                None => reader.value(depth + 1).map(drop),
                Some(field) => {
                    slots[field.slot] = Some(reader.shaped(depth + 1, field.inner, slots)?);
                    Some(())
                }
            }
        })?;
        Some(Leaf {
            kind: Kind::Obj,
            start,
            end: self.at,
        })
    }
}

/// A member to look for: its key, the slot its value goes to, and what to look for in it.
pub struct Field {
    pub key: &'static [u8],
    pub slot: usize,
    pub inner: &'static [Field],
}

/// The members `shape` names of a document that is one object and nothing after it.
pub fn document(doc: &[u8], shape: &[Field], slots: &mut [Option<Leaf>]) -> Option<()> {
    let mut reader = Reader::new(doc, 0);
    if reader.peek()? != b'{' {
        return None;
    }
    reader.shaped(0, shape, slots)?;
    reader.at_end().then_some(())
}

/// The first quote, backslash or control character of `text`, 16 bytes at a time.
pub fn special_at(text: &[u8]) -> Option<usize> {
    let mut at = 0;
    #[cfg(target_arch = "x86_64")]
    while at + 16 <= text.len() {
        // Safety: SSE2 is part of x86_64; the load reads 16 bytes inside `text`.
        let mask = unsafe {
            use std::arch::x86_64::*;
            let block = _mm_loadu_si128(text.as_ptr().add(at) as *const __m128i);
            let quote = _mm_cmpeq_epi8(block, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(block, _mm_set1_epi8(b'\\' as i8));
            let low = _mm_set1_epi8(0x1f);
            let control = _mm_cmpeq_epi8(_mm_max_epu8(block, low), low);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control))
        };
        if mask != 0 {
            return Some(at + mask.trailing_zeros() as usize);
        }
        at += 16;
    }
    text[at..]
        .iter()
        .position(|&b| SPECIAL[b as usize])
        .map(|i| at + i)
}

/// A string's text with its (simple) escapes undone, into `out`.
///
/// 16 bytes at a time: each block is copied whole, then the copy is cut at its first
/// backslash (a task has one every ten bytes or so, too often for a memcpy per run).
pub fn unescape(text: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(text.len() + 16);
    let (mut src, mut dst) = (0, 0);
    #[cfg(target_arch = "x86_64")]
    while src + 16 <= text.len() {
        // Safety: SSE2 is part of x86_64; the load reads 16 bytes inside `text`; the store
        // writes 16 bytes at dst <= src <= len - 16, inside the capacity reserved above.
        let mask = unsafe {
            use std::arch::x86_64::*;
            let block = _mm_loadu_si128(text.as_ptr().add(src) as *const __m128i);
            _mm_storeu_si128(out.as_mut_ptr().add(dst) as *mut __m128i, block);
            _mm_movemask_epi8(_mm_cmpeq_epi8(block, _mm_set1_epi8(b'\\' as i8)))
        };
        if mask == 0 {
            src += 16;
            dst += 16;
            continue;
        }
        let run = mask.trailing_zeros() as usize;
        src += run;
        dst += run;
        let Some(&escaped) = text.get(src + 1) else {
            break;
        };
        // Safety: dst <= src < len, inside the capacity.
        unsafe { *out.as_mut_ptr().add(dst) = unescaped(escaped) };
        src += 2;
        dst += 1;
    }
    // Safety: every byte below dst was written above.
    unsafe { out.set_len(dst) };
    while src < text.len() {
        if text[src] == b'\\' && src + 1 < text.len() {
            out.push(unescaped(text[src + 1]));
            src += 2;
        } else {
            out.push(text[src]);
            src += 1;
        }
    }
}

fn unescaped(escape: u8) -> u8 {
    match escape {
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        other => other, // " \ /
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slow_unescape(text: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut bytes = text.iter();
        while let Some(&b) = bytes.next() {
            out.push(if b == b'\\' {
                bytes.next().map_or(b, |&e| unescaped(e))
            } else {
                b
            });
        }
        out
    }

    #[test]
    fn unescapes_simple_escapes() {
        let mut out = Vec::new();
        unescape(
            br#"{\"A\": \"x\\y\/z\n\t\"} and a long tail without escapes"#,
            &mut out,
        );
        assert_eq!(
            out,
            b"{\"A\": \"x\\y/z\n\t\"} and a long tail without escapes"
        );
    }

    /// Every length and placement around the 16-byte blocks, against the byte-by-byte
    /// versions (a small fixed-seed generator: no dependency).
    #[test]
    fn simd_scans_agree_with_the_scalar_ones() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let alphabet = b"ab\\\"/n\x01\xc3\xa9 {}";
        let mut out = Vec::new();
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 70) as usize;
            let text: Vec<u8> = (0..len)
                .map(|i| alphabet[((seed >> (i % 48)) as usize + i * 7) % alphabet.len()])
                .collect();
            unescape(&text, &mut out);
            assert_eq!(out, slow_unescape(&text), "{text:?}");
            let scalar = text.iter().position(|&b| SPECIAL[b as usize]);
            assert_eq!(special_at(&text), scalar, "{text:?}");
        }
    }

    #[test]
    fn finds_specials_past_the_first_block() {
        let text = b"0123456789abcdef0123456789\"";
        assert_eq!(special_at(text), Some(26));
        assert_eq!(special_at(b"abc\x01"), Some(3));
        assert_eq!(
            special_at("\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}x".as_bytes()),
            None
        );
    }

    #[test]
    fn shapes_read_nested_members_once_and_refuse_repeats() {
        const INNER: &[Field] = &[Field {
            key: b"b",
            slot: 1,
            inner: &[],
        }];
        const SHAPE: &[Field] = &[Field {
            key: b"a",
            slot: 0,
            inner: INNER,
        }];
        let mut slots = [None; 2];
        let doc = br#"{"a": {"b": "x", "c": [1, {"b": 2}]}, "d": null}"#;
        assert!(document(doc, SHAPE, &mut slots).is_some());
        assert_eq!(slots[1].unwrap().bytes(doc), b"x");
        let mut slots = [None; 2];
        assert!(document(br#"{"a": {"b": 1, "b": 2}}"#, SHAPE, &mut slots).is_none());
        for repeated in [
            &br#"{"a": 1, "z": 2, "z": 3}"#[..],
            br#"{"a": {"c": [{"d": 1, "d": 1}]}}"#,
            br#"{"z": {"y": 1, "y": 2}}"#,
            br#"{"a": 1, "a\/": 2}"#,
        ] {
            let mut slots = [None; 2];
            assert!(
                document(repeated, SHAPE, &mut slots).is_none(),
                "{repeated:?}"
            );
        }
        let mut slots = [None; 2];
        let alike = br#"{"a": {"b": 1, "bb": 2, "c": {"b": 3}}, "b": 4}"#;
        assert!(document(alike, SHAPE, &mut slots).is_some());
        let mut slots = [None; 2];
        assert!(document(br#"{"a": 5} x"#, SHAPE, &mut slots).is_none());
        let mut slots = [None; 2];
        assert!(document(br#"{"a": [1, 2,]}"#, SHAPE, &mut slots).is_none());
    }
}
