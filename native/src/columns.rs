//! Arrow-layout column builders: plain buffers the Python side wraps without copying.

use std::ffi::{c_int, c_void};

use pyo3::ffi;
use pyo3::prelude::*;

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

    /// Rows not valid (padding bits past the last row are 0, so only set bits count).
    pub fn nulls(&self) -> usize {
        self.1
            - self
                .0
                .iter()
                .map(|b| b.count_ones() as usize)
                .sum::<usize>()
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

/// Bytes built in Rust, lent to Python through the buffer protocol: `pa.py_buffer(owned)`
/// wraps them without a copy and keeps this object, hence the bytes, alive.
#[pyclass(frozen, module = "superhero_native")]
pub struct Owned {
    bytes: Vec<u8>,
}

impl Owned {
    pub fn new(py: Python<'_>, bytes: Vec<u8>) -> PyResult<Bound<'_, Owned>> {
        Bound::new(py, Owned { bytes })
    }
}

#[pymethods]
impl Owned {
    /// A copy of `data` (the module itself builds them from its buffers).
    #[new]
    fn from_bytes(data: &[u8]) -> Owned {
        Owned {
            bytes: data.to_vec(),
        }
    }

    /// Read-only, one-dimensional bytes, as `bytes` objects export them.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let bytes = &slf.get().bytes;
        // Safety: the view keeps a reference to slf (FillInfo takes one), so the frozen
        // bytes outlive it; a request for a writable buffer is refused by FillInfo.
        let filled = unsafe {
            ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                bytes.as_ptr() as *mut c_void,
                bytes.len() as ffi::Py_ssize_t,
                1,
                flags,
            )
        };
        if filled == -1 {
            return Err(PyErr::fetch(slf.py()));
        }
        Ok(())
    }

    fn __len__(&self) -> usize {
        self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::Validity;

    #[test]
    fn nulls_count_the_unset_bits_of_the_rows_only() {
        for rows in [0usize, 1, 7, 8, 9, 17] {
            let mut validity = Validity::default();
            for i in 0..rows {
                validity.push(i % 3 != 0);
            }
            assert_eq!(validity.nulls(), (0..rows).filter(|i| i % 3 == 0).count());
        }
    }
}
