//! superhero_native: the loader's hot path for whole batches, without the GIL.
//!
//! Python hands over an Arrow binary array's buffers (int32 offsets and bytes) and gets
//! back plain buffers in Arrow layout, which it wraps as arrays without copying.
//! `superhero_assets/core/parse/native.py` is the only caller.

mod canonical;
mod columns;
mod json;
mod kafka;
mod message;
mod time;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use columns::{Fixed, Text};
use message::Batch;

/// The values of an Arrow binary array, from its buffers: rows `start..start + rows`.
struct Values<'a> {
    offsets: &'a [u8],
    data: &'a [u8],
    start: usize,
}

impl<'a> Values<'a> {
    /// Checked once, so that `get` cannot fail: every offset is in the data, in order.
    fn new(offsets: &'a [u8], data: &'a [u8], start: usize, rows: usize) -> PyResult<Self> {
        let values = Values {
            offsets,
            data,
            start,
        };
        if rows == 0 {
            return Ok(values); // an empty array may have an empty offsets buffer
        }
        let needed = start
            .checked_add(rows)
            .and_then(|n| n.checked_add(1))
            .and_then(|n| n.checked_mul(4));
        if needed.is_none_or(|needed| offsets.len() < needed) {
            return Err(PyValueError::new_err(
                "offsets buffer shorter than the array",
            ));
        }
        let raw = |i: usize| {
            let at = 4 * (start + i);
            i32::from_le_bytes(offsets[at..at + 4].try_into().unwrap())
        };
        let mut previous = raw(0);
        for i in 0..=rows {
            let offset = raw(i);
            if offset < previous || offset < 0 || offset as usize > data.len() {
                return Err(PyValueError::new_err(
                    "offsets out of order or past the data buffer: not an Arrow binary array",
                ));
            }
            previous = offset;
        }
        Ok(values)
    }

    fn offset(&self, i: usize) -> usize {
        let at = 4 * (self.start + i);
        i32::from_le_bytes(self.offsets[at..at + 4].try_into().unwrap()) as usize
    }

    fn get(&self, i: usize) -> &'a [u8] {
        &self.data[self.offset(i)..self.offset(i + 1)]
    }
}

/// The bytes of a Python buffer, refused unless contiguous (a strided or reversed view
/// would be read past its end).
fn slice(buffer: &PyBuffer<u8>) -> PyResult<&[u8]> {
    if !buffer.is_c_contiguous() {
        return Err(PyValueError::new_err("buffers must be contiguous"));
    }
    // Safety: a contiguous view of len_bytes() bytes that lives as long as `buffer`; the
    // caller (native.py) passes Arrow buffers, which nothing writes to during the call.
    Ok(unsafe { std::slice::from_raw_parts(buffer.buf_ptr() as *const u8, buffer.len_bytes()) })
}

pub(crate) fn as_bytes<T: Copy>(values: &[T]) -> &[u8] {
    // Safety: plain integers, read as bytes in the machine's (little-endian) order.
    unsafe {
        std::slice::from_raw_parts(values.as_ptr() as *const u8, std::mem::size_of_val(values))
    }
}

pub(crate) fn text<'py>(
    py: Python<'py>,
    column: &Text,
) -> (
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
) {
    (
        PyBytes::new(py, &column.validity.0),
        PyBytes::new(py, as_bytes(&column.offsets)),
        PyBytes::new(py, &column.data),
    )
}

fn fixed<'py, T: Copy>(
    py: Python<'py>,
    column: &Fixed<T>,
) -> (Bound<'py, PyBytes>, Bound<'py, PyBytes>) {
    (
        PyBytes::new(py, &column.validity.0),
        PyBytes::new(py, as_bytes(&column.values)),
    )
}

/// Judge and split a batch of message values; see `superhero_assets/core/parse/native.py`.
/// canonical=False skips the producer's layouts (`canonical.rs`), for tests.
#[pyfunction]
#[pyo3(signature = (offsets, data, start, rows, canonical = true))]
fn scan<'py>(
    py: Python<'py>,
    offsets: PyBuffer<u8>,
    data: PyBuffer<u8>,
    start: usize,
    rows: usize,
    canonical: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let values = Values::new(slice(&offsets)?, slice(&data)?, start, rows)?;
    let batch = py.detach(|| {
        let mut batch = Batch::with_capacity(rows);
        for i in 0..rows {
            batch.push(i, values.get(i), canonical);
        }
        batch
    });
    let out = PyDict::new(py);
    out.set_item("clean", PyBytes::new(py, &batch.clean))?;
    out.set_item("canonical_rows", batch.canonical_rows)?;
    out.set_item("level", text(py, &batch.level))?;
    out.set_item("name", text(py, &batch.name))?;
    out.set_item("log_message", text(py, &batch.log_message))?;
    out.set_item("ts_local", fixed(py, &batch.ts_local_us))?;
    out.set_item("ts_task", fixed(py, &batch.ts_task_s))?;
    for (name, column) in ["game_token", "user_token", "action", "enemy_token"]
        .iter()
        .zip(&batch.tokens)
    {
        out.set_item(*name, text(py, column))?;
    }
    let numbers = ["enemy_damage", "enemy_health_prior", "enemy_health_post"];
    for (name, column) in numbers.iter().zip(&batch.numbers) {
        out.set_item(*name, fixed(py, column))?;
    }
    let p = &batch.participants;
    out.set_item("p_row", PyBytes::new(py, as_bytes(&p.row)))?;
    out.set_item("p_index", PyBytes::new(py, as_bytes(&p.p_index)))?;
    out.set_item("p_user_token", text(py, &p.user_token))?;
    for (name, column) in ["p_id", "p_attack", "p_health"].iter().zip(&p.hero) {
        out.set_item(*name, PyBytes::new(py, as_bytes(column)))?;
    }
    Ok(out)
}

/// CRC-32 (zlib's) of each value as 8 lowercase hex digits, all rows in one buffer.
#[pyfunction]
fn crc32_hex<'py>(
    py: Python<'py>,
    offsets: PyBuffer<u8>,
    data: PyBuffer<u8>,
    start: usize,
    rows: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let values = Values::new(slice(&offsets)?, slice(&data)?, start, rows)?;
    let digits = py.detach(|| {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut digits = Vec::with_capacity(8 * rows);
        for i in 0..rows {
            let crc = crc32fast::hash(values.get(i));
            digits.extend((0..8).rev().map(|k| HEX[((crc >> (4 * k)) & 0xf) as usize]));
        }
        digits
    });
    Ok(PyBytes::new(py, &digits))
}

#[pymodule]
fn superhero_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(scan, m)?)?;
    m.add_function(wrap_pyfunction!(crc32_hex, m)?)?;
    m.add_class::<kafka::KafkaReader>()?;
    m.add_class::<columns::Owned>()?;
    Ok(())
}
