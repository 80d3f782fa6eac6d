//! superhero_native: the loader's hot path for whole batches, without the GIL.
//!
//! Python hands over an Arrow binary array's buffers (int32 offsets and bytes) and gets
//! back plain buffers in Arrow layout, which it wraps as arrays without copying.
//! `superhero_assets/core/native.py` is the only caller.

mod canonical;
mod columns;
mod json;
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
    fn new(offsets: &'a [u8], data: &'a [u8], start: usize, rows: usize) -> PyResult<Self> {
        if offsets.len() < 4 * (start + rows + 1) {
            return Err(PyValueError::new_err(
                "offsets buffer shorter than the array",
            ));
        }
        let values = Values {
            offsets,
            data,
            start,
        };
        if (0..=rows).any(|i| values.offset(i) > data.len()) {
            return Err(PyValueError::new_err(
                "an offset points past the data buffer",
            ));
        }
        Ok(values)
    }

    fn offset(&self, i: usize) -> usize {
        let at = 4 * (self.start + i);
        i32::from_le_bytes(self.offsets[at..at + 4].try_into().unwrap()).max(0) as usize
    }

    fn get(&self, i: usize) -> &'a [u8] {
        let (from, to) = (self.offset(i), self.offset(i + 1));
        if from <= to {
            &self.data[from..to]
        } else {
            &[]
        }
    }
}

fn slice(buffer: &PyBuffer<u8>) -> &[u8] {
    // Safety: a C-contiguous read-only view that lives as long as `buffer`, which the caller
    // keeps alive (and does not mutate) for the whole call.
    unsafe { std::slice::from_raw_parts(buffer.buf_ptr() as *const u8, buffer.len_bytes()) }
}

fn as_bytes<T: Copy>(values: &[T]) -> &[u8] {
    // Safety: plain integers, read as bytes in the machine's (little-endian) order.
    unsafe {
        std::slice::from_raw_parts(values.as_ptr() as *const u8, std::mem::size_of_val(values))
    }
}

fn text<'py>(
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

/// Judge and split a batch of message values; see `superhero_assets/core/native.py`.
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
    let values = Values::new(slice(&offsets), slice(&data), start, rows)?;
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
    let values = Values::new(slice(&offsets), slice(&data), start, rows)?;
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
    Ok(())
}
