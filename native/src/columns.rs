//! Arrow-layout column builders: plain buffers the Python side wraps without copying.

/// A validity bitmap, one bit per row, least significant bit first.
#[derive(Default)]
pub struct Validity(pub Vec<u8>, usize);

impl Validity {
    pub fn push(&mut self, valid: bool) {
        if self.1.is_multiple_of(8) {
            self.0.push(0);
        }
        if valid {
            *self.0.last_mut().unwrap() |= 1 << (self.1 % 8);
        }
        self.1 += 1;
    }
}

/// A utf8 column: int32 offsets, the bytes, and which rows are valid.
pub struct Text {
    pub offsets: Vec<i32>,
    pub data: Vec<u8>,
    pub validity: Validity,
}

impl Text {
    pub fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Text {
            offsets,
            data: Vec::with_capacity(bytes),
            validity: Validity::default(),
        }
    }

    pub fn push(&mut self, value: Option<&[u8]>) {
        if let Some(bytes) = value {
            self.data.extend_from_slice(bytes);
        }
        self.offsets.push(self.data.len() as i32);
        self.validity.push(value.is_some());
    }
}

/// A fixed-width column (integers, timestamps) and which rows are valid.
pub struct Fixed<T> {
    pub values: Vec<T>,
    pub validity: Validity,
}

impl<T: Copy + Default> Fixed<T> {
    pub fn with_capacity(rows: usize) -> Self {
        Fixed {
            values: Vec::with_capacity(rows),
            validity: Validity::default(),
        }
    }

    pub fn push(&mut self, value: Option<T>) {
        self.values.push(value.unwrap_or_default());
        self.validity.push(value.is_some());
    }
}
