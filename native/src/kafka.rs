//! A Kafka reader without Python objects: librdkafka's consumer, read into Arrow buffers.
//!
//! confluent-kafka turns every message into a Python object (bytes for the value, a tuple
//! for the timestamp), with the GIL held; that is most of what a bare consume() loop costs.
//! This reader calls the very librdkafka confluent-kafka loaded (its path comes from
//! Python, see `superhero_assets/core/kafka/native_reader.py`) and copies each batch straight into
//! column buffers, without the GIL. Only the calls the loader needs are declared here.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyImportError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::{PyBytes, PyDict};
use std::sync::MutexGuard;

use crate::columns::{Owned, Text};
use crate::{as_bytes, text};

/// rd_kafka_message_t, as laid out in rdkafka.h (a stable, public struct).
#[repr(C)]
struct Message {
    err: c_int,
    rkt: *mut c_void,
    partition: i32,
    payload: *const u8,
    len: usize,
    key: *const u8,
    key_len: usize,
    offset: i64,
    private: *mut c_void,
}

/// rd_kafka_topic_partition_t (rdkafka.h).
#[repr(C)]
struct TopicPartition {
    topic: *mut c_char,
    partition: i32,
    offset: i64,
    metadata: *mut c_void,
    metadata_size: usize,
    opaque: *mut c_void,
    err: c_int,
    private: *mut c_void,
}

/// rd_kafka_topic_partition_list_t (rdkafka.h).
#[repr(C)]
struct PartitionList {
    cnt: c_int,
    size: c_int,
    elems: *mut TopicPartition,
}

type Handle = *mut c_void;

/// The longest single wait on the consumer queue, in ms (see `read`).
const WAIT_SLICE_MS: u128 = 10;
type LogCallback = extern "C" fn(Handle, c_int, *const c_char, *const c_char);

/// The librdkafka functions the reader calls, looked up once in the loaded library.
#[derive(Clone, Copy)]
struct Api {
    conf_new: unsafe extern "C" fn() -> Handle,
    conf_set:
        unsafe extern "C" fn(Handle, *const c_char, *const c_char, *mut c_char, usize) -> c_int,
    conf_destroy: unsafe extern "C" fn(Handle),
    conf_set_log_cb: unsafe extern "C" fn(Handle, LogCallback),
    new: unsafe extern "C" fn(c_int, Handle, *mut c_char, usize) -> Handle,
    poll_set_consumer: unsafe extern "C" fn(Handle) -> c_int,
    queue_get_consumer: unsafe extern "C" fn(Handle) -> Handle,
    queue_destroy: unsafe extern "C" fn(Handle),
    consume_batch_queue: unsafe extern "C" fn(Handle, c_int, *mut *mut Message, usize) -> isize,
    message_destroy: unsafe extern "C" fn(*mut Message),
    message_timestamp: unsafe extern "C" fn(*const Message, *mut c_int) -> i64,
    message_headers: unsafe extern "C" fn(*const Message, *mut Handle) -> c_int,
    header_cnt: unsafe extern "C" fn(Handle) -> usize,
    header_get_all: unsafe extern "C" fn(
        Handle,
        usize,
        *mut *const c_char,
        *mut *const u8,
        *mut usize,
    ) -> c_int,
    err2str: unsafe extern "C" fn(c_int) -> *const c_char,
    err2name: unsafe extern "C" fn(c_int) -> *const c_char,
    list_new: unsafe extern "C" fn(c_int) -> *mut PartitionList,
    list_add: unsafe extern "C" fn(*mut PartitionList, *const c_char, i32) -> *mut TopicPartition,
    list_destroy: unsafe extern "C" fn(*mut PartitionList),
    assign: unsafe extern "C" fn(Handle, *const PartitionList) -> c_int,
    position: unsafe extern "C" fn(Handle, *mut PartitionList) -> c_int,
    consumer_close: unsafe extern "C" fn(Handle) -> c_int,
    destroy: unsafe extern "C" fn(Handle),
    topic_new: unsafe extern "C" fn(Handle, *const c_char, Handle) -> Handle,
    topic_destroy: unsafe extern "C" fn(Handle),
    metadata: unsafe extern "C" fn(Handle, c_int, Handle, *mut Handle, c_int) -> c_int,
    metadata_destroy: unsafe extern "C" fn(Handle),
}

impl Api {
    fn load(path: &str) -> PyResult<Api> {
        let c_path = CString::new(path)?;
        // Safety: dlopen of a shared library; librdkafka has no load-time side effects.
        let lib = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if lib.is_null() {
            return Err(PyImportError::new_err(format!(
                "cannot load librdkafka from {path}"
            )));
        }
        macro_rules! symbol {
            ($name:literal) => {{
                let name = CString::new($name).unwrap();
                // Safety: the symbol's C signature is the one declared in `Api` (rdkafka.h).
                let found = unsafe { libc::dlsym(lib, name.as_ptr()) };
                if found.is_null() {
                    return Err(PyImportError::new_err(format!("{path} has no {}", $name)));
                }
                unsafe { as_function(found) }
            }};
        }
        Ok(Api {
            conf_new: symbol!("rd_kafka_conf_new"),
            conf_set: symbol!("rd_kafka_conf_set"),
            conf_destroy: symbol!("rd_kafka_conf_destroy"),
            conf_set_log_cb: symbol!("rd_kafka_conf_set_log_cb"),
            new: symbol!("rd_kafka_new"),
            poll_set_consumer: symbol!("rd_kafka_poll_set_consumer"),
            queue_get_consumer: symbol!("rd_kafka_queue_get_consumer"),
            queue_destroy: symbol!("rd_kafka_queue_destroy"),
            consume_batch_queue: symbol!("rd_kafka_consume_batch_queue"),
            message_destroy: symbol!("rd_kafka_message_destroy"),
            message_timestamp: symbol!("rd_kafka_message_timestamp"),
            message_headers: symbol!("rd_kafka_message_headers"),
            header_cnt: symbol!("rd_kafka_header_cnt"),
            header_get_all: symbol!("rd_kafka_header_get_all"),
            err2str: symbol!("rd_kafka_err2str"),
            err2name: symbol!("rd_kafka_err2name"),
            list_new: symbol!("rd_kafka_topic_partition_list_new"),
            list_add: symbol!("rd_kafka_topic_partition_list_add"),
            list_destroy: symbol!("rd_kafka_topic_partition_list_destroy"),
            assign: symbol!("rd_kafka_assign"),
            position: symbol!("rd_kafka_position"),
            consumer_close: symbol!("rd_kafka_consumer_close"),
            destroy: symbol!("rd_kafka_destroy"),
            topic_new: symbol!("rd_kafka_topic_new"),
            topic_destroy: symbol!("rd_kafka_topic_destroy"),
            metadata: symbol!("rd_kafka_metadata"),
            metadata_destroy: symbol!("rd_kafka_metadata_destroy"),
        })
    }

    fn describe(&self, err: c_int) -> String {
        // Safety: librdkafka returns static strings for any code.
        let text = |p: *const c_char| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
        format!(
            "{} ({})",
            text(unsafe { (self.err2str)(err) }),
            text(unsafe { (self.err2name)(err) })
        )
    }
}

/// A looked-up symbol as the function pointer type it is declared with in `Api`.
/// Safety: F must be an `extern "C" fn` type matching the symbol's C signature.
unsafe fn as_function<F: Copy>(symbol: *mut c_void) -> F {
    assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<*mut c_void>());
    std::mem::transmute_copy(&symbol)
}

extern "C" fn quiet(_: Handle, _: c_int, _: *const c_char, _: *const c_char) {}

fn c_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// The consumer and its queue; librdkafka's handles may be used from any thread.
struct Client {
    rk: Handle,
    queue: Handle,
}
unsafe impl Send for Client {}

/// A librdkafka handle carried into code that runs without the GIL.
struct SendHandle(Handle);
unsafe impl Send for SendHandle {}

impl Client {
    fn free(self, api: &Api) {
        // Safety: self is consumed, so nothing can use the handles afterwards.
        unsafe {
            (api.queue_destroy)(self.queue);
            (api.consumer_close)(self.rk);
            (api.destroy)(self.rk);
        }
    }
}

/// A header's name and value (None: a header without a value).
type Header = (Vec<u8>, Option<Vec<u8>>);

/// One consume() call's messages, as columns; rows past `last` are dropped and counted.
struct Batch {
    offsets: Vec<i64>,
    timestamps: Vec<i64>,
    timestamp_types: Vec<i8>,
    values: Text,
    keys: Text,
    /// (row, [(name, value)]) of the rare messages that carry headers.
    headers: Vec<(usize, Vec<Header>)>,
    /// The first error the client delivered: (code, description, detail).
    error: Option<(i32, String, String)>,
    past_last: usize,
    /// The batch's value (or key) bytes when over 2 GiB: nothing else is read then.
    too_big: Option<usize>,
}

impl Batch {
    fn into_dict<'py>(mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        out.set_item("rows", self.offsets.len())?;
        out.set_item("offset", PyBytes::new(py, as_bytes(&self.offsets)))?;
        out.set_item("timestamp", PyBytes::new(py, as_bytes(&self.timestamps)))?;
        out.set_item(
            "timestamp_type",
            PyBytes::new(py, as_bytes(&self.timestamp_types)),
        )?;
        // The values, most of a batch's bytes, are handed over without a copy.
        let values = std::mem::take(&mut self.values.data);
        let (validity, offsets, _) = text(py, &self.values);
        out.set_item("value", (validity, offsets, Owned::new(py, values)?))?;
        out.set_item("value_nulls", self.values.validity.nulls())?;
        let any_key = self.keys.validity.nulls() < self.offsets.len();
        out.set_item("key", any_key.then(|| text(py, &self.keys)))?;
        let headers = self.headers.iter().map(|(row, pairs)| {
            let pairs: Vec<_> = pairs
                .iter()
                .map(|(name, value)| {
                    (
                        PyBytes::new(py, name),
                        value.as_ref().map(|v| PyBytes::new(py, v)),
                    )
                })
                .collect();
            (*row, pairs)
        });
        out.set_item("headers", headers.collect::<Vec<_>>())?;
        out.set_item("error", &self.error)?;
        out.set_item("past_last", self.past_last)?;
        out.set_item("too_big", self.too_big)?;
        Ok(out)
    }
}

/// A consumer of one assigned partition at a time, reading into `Batch`es.
#[pyclass(module = "superhero_native")]
pub struct KafkaReader {
    api: Api,
    client: std::sync::Mutex<Option<Client>>,
}

impl KafkaReader {
    /// The client, locked without holding the GIL while waiting (a thread inside `read`
    /// needs the GIL back before it can unlock).
    fn lock(&self, py: Python<'_>) -> PyResult<MutexGuard<'_, Option<Client>>> {
        self.client
            .lock_py_attached(py)
            .map_err(|_| PyRuntimeError::new_err("the Kafka reader failed in another thread"))
    }

    /// Calls f with the client's handles, without the GIL.
    fn with_client<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(Api, Handle) -> PyResult<T> + Send,
    ) -> PyResult<T> {
        let guard = self.lock(py)?;
        let Some(client) = guard.as_ref() else {
            return Err(PyRuntimeError::new_err("the Kafka reader is closed"));
        };
        let (api, rk) = (self.api, SendHandle(client.rk));
        py.detach(move || {
            let rk = rk;
            f(api, rk.0)
        })
    }
}

/// A one-partition list; the caller frees it with list_destroy.
fn partition_list(api: &Api, topic: &CStr, partition: i32) -> *mut PartitionList {
    // Safety: list_add copies the topic name; the returned element lives in the list.
    unsafe {
        let list = (api.list_new)(1);
        (api.list_add)(list, topic.as_ptr(), partition);
        list
    }
}

#[pymethods]
impl KafkaReader {
    /// A consumer on the librdkafka at `library`, with these settings (all as strings).
    /// quiet=True drops librdkafka's own log lines; errors still come back from `read`.
    #[new]
    fn new(library: &str, settings: Vec<(String, String)>, quiet_log: bool) -> PyResult<Self> {
        let api = Api::load(library)?;
        let settings = settings
            .iter()
            .map(|(name, value)| {
                Ok((
                    name,
                    CString::new(name.as_str())?,
                    CString::new(value.as_str())?,
                ))
            })
            .collect::<PyResult<Vec<_>>>()?;
        let mut errstr = [0u8; 512];
        // Safety: calls as documented in rdkafka.h; conf is freed on every error path and
        // owned by the client once rd_kafka_new succeeds.
        unsafe {
            let conf = (api.conf_new)();
            for (name, c_name, c_value) in &settings {
                let res = (api.conf_set)(
                    conf,
                    c_name.as_ptr(),
                    c_value.as_ptr(),
                    errstr.as_mut_ptr() as *mut c_char,
                    errstr.len(),
                );
                if res != 0 {
                    (api.conf_destroy)(conf);
                    return Err(PyValueError::new_err(format!(
                        "Kafka setting {name}: {}",
                        c_text(&errstr)
                    )));
                }
            }
            if quiet_log {
                (api.conf_set_log_cb)(conf, quiet);
            }
            let rk = (api.new)(1, conf, errstr.as_mut_ptr() as *mut c_char, errstr.len());
            if rk.is_null() {
                (api.conf_destroy)(conf);
                return Err(PyRuntimeError::new_err(format!(
                    "cannot create a Kafka consumer: {}",
                    c_text(&errstr)
                )));
            }
            let err = (api.poll_set_consumer)(rk);
            let queue = (api.queue_get_consumer)(rk);
            if err != 0 || queue.is_null() {
                if !queue.is_null() {
                    (api.queue_destroy)(queue);
                }
                (api.destroy)(rk);
                return Err(PyValueError::new_err(format!(
                    "no consumer queue (is group.id set?): {}",
                    api.describe(err)
                )));
            }
            Ok(KafkaReader {
                api,
                client: std::sync::Mutex::new(Some(Client { rk, queue })),
            })
        }
    }

    /// Look the topics up before their partitions are assigned: a partition of a topic the
    /// client has not seen yet could wait up to a second for its first messages. Best
    /// effort: a failure here shows again, with its reason, when the topic is read.
    fn learn_topics(&self, py: Python<'_>, topics: Vec<String>, timeout_ms: i32) -> PyResult<()> {
        let names = topics
            .iter()
            .map(|t| CString::new(t.as_str()))
            .collect::<Result<Vec<_>, _>>()?;
        self.with_client(py, move |api, rk| {
            for name in &names {
                // Safety: a topic handle and a metadata result, each freed right after.
                let answered = unsafe {
                    let rkt = (api.topic_new)(rk, name.as_ptr(), std::ptr::null_mut());
                    if rkt.is_null() {
                        break;
                    }
                    let mut metadata: Handle = std::ptr::null_mut();
                    let err = (api.metadata)(rk, 0, rkt, &mut metadata, timeout_ms);
                    if err == 0 {
                        (api.metadata_destroy)(metadata);
                    }
                    (api.topic_destroy)(rkt);
                    err == 0
                };
                if !answered {
                    break; // the broker is away: no use waiting again for the next topic
                }
            }
            Ok(())
        })
    }

    /// Read `topic`[`partition`] from `offset` on (replacing any earlier assignment).
    fn assign(&self, py: Python<'_>, topic: &str, partition: i32, offset: i64) -> PyResult<()> {
        let topic = CString::new(topic)?;
        self.with_client(py, move |api, rk| {
            let list = partition_list(&api, &topic, partition);
            // Safety: the list holds one element, set before the call and freed after it.
            let err = unsafe {
                (*(*list).elems).offset = offset;
                let err = (api.assign)(rk, list);
                (api.list_destroy)(list);
                err
            };
            match err {
                0 => Ok(()),
                _ => Err(PyRuntimeError::new_err(format!(
                    "assign: {}",
                    api.describe(err)
                ))),
            }
        })
    }

    /// The offset the consumer will read next in `topic`[`partition`] (negative: none yet).
    fn position(&self, py: Python<'_>, topic: &str, partition: i32) -> PyResult<i64> {
        let topic = CString::new(topic)?;
        self.with_client(py, move |api, rk| {
            let list = partition_list(&api, &topic, partition);
            // Safety: as in `assign`; the element's offset and err are filled in by the call.
            let (err, offset) = unsafe {
                let err = (api.position)(rk, list);
                let element = &*(*list).elems;
                let found = (if err == 0 { element.err } else { err }, element.offset);
                (api.list_destroy)(list);
                found
            };
            match err {
                0 => Ok(offset),
                _ => Err(PyRuntimeError::new_err(format!(
                    "position: {}",
                    api.describe(err)
                ))),
            }
        })
    }

    /// Up to `max_messages` messages within `timeout_ms`, read without the GIL, as column
    /// buffers; messages past offset `last` are dropped (and counted).
    fn read<'py>(
        &self,
        py: Python<'py>,
        max_messages: usize,
        timeout_ms: i32,
        last: i64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let guard = self.lock(py)?;
        let Some(client) = guard.as_ref() else {
            return Err(PyRuntimeError::new_err("the Kafka reader is closed"));
        };
        let (api, queue) = (self.api, client.queue as usize);
        let batch = py.detach(move || {
            let mut messages: Vec<*mut Message> = vec![std::ptr::null_mut(); max_messages];
            let deadline = Instant::now() + Duration::from_millis(timeout_ms.max(0) as u64);
            let mut got = 0usize;
            // In short waits: one long wait on the consumer queue can miss the wake-up for a
            // partition it starts serving during the wait, and then sleeps its whole timeout
            // with the messages already fetched (a stall at each new partition).
            while got < max_messages {
                let left = deadline
                    .saturating_duration_since(Instant::now())
                    .as_millis();
                // Safety: librdkafka fills at most the free slots; each message is destroyed below.
                let n = unsafe {
                    (api.consume_batch_queue)(
                        queue as Handle,
                        left.min(WAIT_SLICE_MS) as c_int,
                        messages.as_mut_ptr().add(got),
                        max_messages - got,
                    )
                };
                if n < 0 {
                    for &message in &messages[..got] {
                        unsafe { (api.message_destroy)(message) };
                    }
                    return Err(PyRuntimeError::new_err(
                        "consume failed: the queue was destroyed",
                    ));
                }
                let fresh = &messages[got..got + n as usize];
                got += n as usize;
                // Nothing more to wait for: the time is up, an error came, or the chunk's
                // last offset was reached (what follows would be dropped anyway).
                // Safety: every pointer in `fresh` is a live message.
                let ends = fresh
                    .iter()
                    .any(|&m| unsafe { (*m).err != 0 || (*m).offset >= last });
                if left == 0 || ends {
                    break;
                }
            }
            messages.truncate(got);
            let batch = unsafe { collect(&api, &messages, last) };
            for message in messages {
                unsafe { (api.message_destroy)(message) };
            }
            Ok(batch)
        })?;
        drop(guard);
        batch.into_dict(py)
    }

    /// Leave the group (there is none: explicit assignment) and free the client.
    fn close(&self, py: Python<'_>) {
        let client = self.lock(py).ok().and_then(|mut guard| guard.take());
        if let Some(client) = client {
            let api = self.api;
            // Safety: the client is taken out of the reader, so nothing uses it afterwards.
            py.detach(move || client.free(&api));
        }
    }
}

impl Drop for KafkaReader {
    /// A reader dropped without close() still frees its client (and its threads).
    fn drop(&mut self) {
        if let Some(client) = self.client.get_mut().ok().and_then(Option::take) {
            client.free(&self.api);
        }
    }
}

/// The messages' columns. Safety: every pointer is a live message from consume_batch_queue.
unsafe fn collect(api: &Api, messages: &[*mut Message], last: i64) -> Batch {
    let kept = |m: &Message| m.err == 0 && m.offset <= last;
    let kept_bytes = |size: fn(&Message) -> usize| -> usize {
        messages
            .iter()
            .map(|&m| &*m)
            .filter(|m| kept(m))
            .map(size)
            .sum()
    };
    let (bytes, key_bytes) = (kept_bytes(|m| m.len), kept_bytes(|m| m.key_len));
    let n = messages.len();
    let mut batch = Batch {
        offsets: Vec::with_capacity(n),
        timestamps: Vec::with_capacity(n),
        timestamp_types: Vec::with_capacity(n),
        values: Text::with_capacity(n, bytes),
        keys: Text::with_capacity(n, 0),
        headers: Vec::new(),
        error: None,
        past_last: 0,
        too_big: None,
    };
    if bytes.max(key_bytes) > i32::MAX as usize {
        // Arrow's binary offsets are int32: refuse rather than wrap them.
        batch.too_big = Some(bytes.max(key_bytes));
        return batch;
    }
    for &pointer in messages {
        let m = &*pointer;
        if m.err != 0 {
            if batch.error.is_none() {
                let detail = if m.payload.is_null() {
                    String::new()
                } else {
                    String::from_utf8_lossy(std::slice::from_raw_parts(m.payload, m.len))
                        .into_owned()
                };
                batch.error = Some((m.err, api.describe(m.err), detail));
            }
            continue;
        }
        if m.offset > last {
            batch.past_last += 1;
            continue;
        }
        let row = batch.offsets.len();
        batch.offsets.push(m.offset);
        let mut kind: c_int = 0;
        batch
            .timestamps
            .push((api.message_timestamp)(pointer, &mut kind));
        batch.timestamp_types.push(kind as i8);
        let bytes_of =
            |p: *const u8, len: usize| (!p.is_null()).then(|| std::slice::from_raw_parts(p, len));
        batch.values.push(bytes_of(m.payload, m.len));
        batch.keys.push(bytes_of(m.key, m.key_len));
        let mut headers: Handle = std::ptr::null_mut();
        if (api.message_headers)(pointer, &mut headers) == 0 && !headers.is_null() {
            let mut pairs = Vec::new();
            for i in 0..(api.header_cnt)(headers) {
                let (mut name, mut value, mut size) = (std::ptr::null(), std::ptr::null(), 0usize);
                if (api.header_get_all)(headers, i, &mut name, &mut value, &mut size) == 0 {
                    let name = CStr::from_ptr(name).to_bytes().to_vec();
                    pairs.push((name, bytes_of(value, size).map(<[u8]>::to_vec)));
                }
            }
            batch.headers.push((row, pairs));
        }
    }
    batch
}
