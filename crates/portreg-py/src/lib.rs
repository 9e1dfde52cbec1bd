//! The native module of the `portreg` Python package, `portreg._portreg`: the registry's
//! questions answered by portreg's library, and columns of ports answered at Arrow speed.
//! `python/portreg` wraps it in the package's public API (records, socket drop-ins, frames).
//!
//! Every answer is the CLI's: lookups and searches give the CLI's JSON records, a registry
//! is found as `portreg` finds it (`--registry`'s rules, the installed one, local names),
//! and columns are answered from the [`AnswerTable`] that `portreg enrich` reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, DictionaryArray, Int32Array, StringArray};
use arrow_buffer::{BooleanBuffer, NullBuffer, ScalarBuffer};
use arrow_schema::DataType;
use portreg::answer_table::{
    port_number, protocol_slot, transport_slot, AnswerTable, Column, ColumnValues, ANY_SLOT,
};
use portreg::{CompiledRegistry, Machine, PortSpan, Query, Transport};
use portreg_cli::active::Active;
use portreg_cli::cli::Common;
use portreg_cli::output::Item;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyArray;
use pyo3_arrow::PyChunkedArray;

/// A registry, as the CLI holds it, with the columns answered so far.
#[pyclass(frozen, module = "portreg._portreg")]
struct NativeRegistry {
    active: Active,
    /// Whether this is the registry `portreg` uses without `--registry`.
    default: bool,
    columns: Mutex<HashMap<Column, Arc<ColumnValues>>>,
}

/// An error of reading a registry: `OSError` where a file could not be read, else
/// `ValueError` (a file portreg cannot read as a registry).
fn read_error(error: anyhow::Error) -> PyErr {
    let text = format!("{error:#}");
    if error.chain().any(|cause| cause.is::<std::io::Error>()) {
        PyOSError::new_err(text)
    } else {
        PyValueError::new_err(text)
    }
}

fn transports(names: &[String]) -> PyResult<Vec<Transport>> {
    names
        .iter()
        .map(|name| {
            Transport::known(name.trim()).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "{name:?} is not a transport protocol: use tcp, udp, sctp or dccp"
                ))
            })
        })
        .collect()
}

fn json_text(value: &serde_json::Value) -> String {
    value.to_string()
}

impl NativeRegistry {
    fn new(active: Active, default: bool) -> NativeRegistry {
        NativeRegistry {
            active,
            default,
            columns: Mutex::new(HashMap::new()),
        }
    }

    fn registry(&self) -> &CompiledRegistry {
        self.active.registry()
    }

    /// The columns' values for every slot and port, answered once per registry.
    fn column_values(&self, wanted: &[Column]) -> Vec<Arc<ColumnValues>> {
        let mut columns = self.columns.lock().unwrap_or_else(PoisonError::into_inner);
        if wanted.iter().any(|column| !columns.contains_key(column)) {
            let answers = AnswerTable::new(self.registry());
            for &column in wanted {
                columns
                    .entry(column)
                    .or_insert_with(|| Arc::new(answers.column(column)));
            }
        }
        wanted
            .iter()
            .filter_map(|column| columns.get(column).cloned())
            .collect()
    }
}

#[pymethods]
impl NativeRegistry {
    /// The registry built into portreg.
    #[staticmethod]
    fn embedded() -> NativeRegistry {
        NativeRegistry::new(Active::embedded(), false)
    }

    /// The registry `portreg` uses: the installed one (`portreg update`) or the built-in
    /// one, with the local names of `local.d`.
    #[staticmethod]
    fn default_registry() -> PyResult<NativeRegistry> {
        let active = Active::layered(&Common::default()).map_err(read_error)?;
        Ok(NativeRegistry::new(active, true))
    }

    /// Any file `portreg --registry` reads.
    #[staticmethod]
    fn read(path: std::path::PathBuf) -> PyResult<NativeRegistry> {
        let active = Active::load(Some(&path)).map_err(read_error)?;
        Ok(NativeRegistry::new(active, false))
    }

    /// Where the registry comes from.
    #[getter]
    fn origin(&self) -> String {
        self.active.origin.clone()
    }

    /// The number of records.
    fn __len__(&self) -> usize {
        self.registry().len()
    }

    /// Every record's JSON, in the registry's order.
    fn records(&self) -> String {
        let registry = self.registry();
        let records: Vec<serde_json::Value> = (0..registry.len())
            .filter_map(|index| registry.record(index))
            .map(|record| portreg::format::record_to_json(&record.to_record()))
            .collect();
        json_text(&serde_json::Value::Array(records))
    }

    /// The CLI's JSON for `portreg QUERY`.
    #[pyo3(signature = (query, transports = Vec::new(), all = false))]
    fn lookup(&self, query: &str, transports: Vec<String>, all: bool) -> PyResult<String> {
        let parsed: Query = query
            .parse()
            .map_err(|error: portreg::QueryError| PyValueError::new_err(error.to_string()))?;
        let transports = self::transports(&transports)?;
        let items =
            portreg_cli::commands::lookup::answer(self.registry(), &parsed, &transports, all);
        let values: Vec<serde_json::Value> = items.iter().map(Item::to_json).collect();
        Ok(json_text(&serde_json::Value::Array(values)))
    }

    /// The CLI's JSON for `portreg search TEXT`, best matches first.
    #[pyo3(signature = (text, transports = Vec::new(), limit = 20))]
    fn search(&self, text: &str, transports: Vec<String>, limit: usize) -> PyResult<String> {
        let transports = self::transports(&transports)?;
        let values: Vec<serde_json::Value> = self
            .registry()
            .search(text, &transports, limit)
            .iter()
            .map(|hit| {
                Item {
                    record: hit.record.to_record(),
                    role: None,
                    tier: Some(hit.tier),
                }
                .to_json()
            })
            .collect();
        Ok(json_text(&serde_json::Value::Array(values)))
    }

    /// The CLI's JSON for `portreg check-name NAME`.
    fn check_name(&self, name: &str) -> String {
        json_text(&portreg::NameCheck::run(self.registry(), name).to_json())
    }

    /// The CLI's JSON for `portreg about`.
    fn about(&self) -> String {
        json_text(&portreg_cli::commands::about::about_json(
            &self.active,
            self.default,
        ))
    }

    /// `portreg free --format json`: free spans in `range` on every transport given, or
    /// why `explain` is not offered, or a stable port `stable_for` a name.
    #[pyo3(signature = (range, count = None, transports = Vec::new(), include_ephemeral = false, include_kernel_reserved = false, include_listening = false, include_browser_blocked = false, avoid_popular = false, nmap = None, explain = None, stable_for = None))]
    #[allow(clippy::too_many_arguments)]
    fn free(
        &self,
        range: (u16, u16),
        count: Option<usize>,
        transports: Vec<String>,
        include_ephemeral: bool,
        include_kernel_reserved: bool,
        include_listening: bool,
        include_browser_blocked: bool,
        avoid_popular: bool,
        nmap: Option<std::path::PathBuf>,
        explain: Option<u16>,
        stable_for: Option<String>,
    ) -> PyResult<String> {
        use portreg_cli::cli::{
            ColorChoice, FreeArgs, LayerArgs, RegistryArg, ReportFormat, ReportOutput, SourceArgs,
        };
        use portreg_cli::commands::free;
        let (low, high) = range;
        let span = PortSpan::new(low, high)
            .ok_or_else(|| PyValueError::new_err(format!("{low}-{high} is not a range")))?;
        let transports = self::transports(&transports)?;
        let args = FreeArgs {
            range: span,
            count,
            explain,
            stable_for,
            include_ephemeral,
            include_kernel_reserved,
            include_listening,
            include_browser_blocked,
            avoid_popular,
            output: ReportOutput {
                format: ReportFormat::Json,
                color: ColorChoice::Never,
            },
            source: SourceArgs {
                transport: transports.clone(),
                registry: RegistryArg { registry: None },
                layers: LayerArgs {
                    unofficial: false,
                    nmap: nmap.clone(),
                },
            },
        };
        let failure =
            |failure: portreg_cli::Failure| PyValueError::new_err(format!("{:#}", failure.error));
        let machine = Machine::read().with_listening();
        let finder = free::finder(
            self.registry(),
            &transports,
            &machine,
            &args,
            nmap.as_deref(),
        )
        .map_err(failure)?;
        let value = if let Some(port) = explain {
            portreg::explain_json(port, &finder.explain(port))
        } else if let Some(name) = &args.stable_for {
            free::check_stable_name(self.registry(), name).map_err(failure)?;
            let pick = finder.stable(name).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "no port of {} is free in the registry",
                    portreg::STABLE_SPAN
                ))
            })?;
            portreg::stable_json(name, &pick)
        } else {
            serde_json::Value::Array(
                finder
                    .spans(span, count)
                    .iter()
                    .map(free::span_json)
                    .collect(),
            )
        };
        Ok(json_text(&value))
    }

    /// libc's `getservbyport` answer: the name of the service on `port` and `protocol`
    /// (any when `None`).
    #[pyo3(signature = (port, protocol = None))]
    fn getservbyport(&self, port: u16, protocol: Option<&str>) -> Option<String> {
        self.registry()
            .service_by_port(port, protocol.map(str::as_bytes))
            .map(|service| service.name.to_owned())
    }

    /// libc's `getservbyname` answer: the port of the service `name` (byte for byte, as
    /// libc compares) on `protocol` (any when `None`).
    #[pyo3(signature = (name, protocol = None))]
    fn getservbyname(&self, name: &str, protocol: Option<&str>) -> Option<u16> {
        self.registry()
            .service_by_name(name, protocol.map(str::as_bytes))
            .map(|service| service.port)
    }

    /// The columns (`name`, `description`, `status`, `range_class`, `source`) for each row
    /// of `ports`, on the row's transport (`transports`, a column) or on `transport` (one
    /// for every row; any when neither): pyarrow dictionary arrays, null where no record
    /// answers. The GIL is released while they are computed.
    #[pyo3(signature = (ports, columns, transports = None, transport = None, column_name = "ports"))]
    fn answer_columns(
        &self,
        py: Python<'_>,
        ports: AnyArray,
        columns: Vec<String>,
        transports: Option<AnyArray>,
        transport: Option<&str>,
        column_name: &str,
    ) -> PyResult<Vec<Py<PyAny>>> {
        let wanted: Vec<Column> = columns
            .iter()
            .map(|name| {
                name.parse::<Column>()
                    .map_err(|error| PyValueError::new_err(error.to_string()))
            })
            .collect::<PyResult<_>>()?;
        let ports = ports.into_chunked_array()?;
        let slots = match (transports, transport) {
            (Some(column), _) => Slots::Each(Arc::new(slots_of(&column.into_chunked_array()?)?)),
            (None, Some(text)) => Slots::One(transport_slot(text.as_bytes())),
            (None, None) => Slots::One(Some(ANY_SLOT)),
        };
        let tables = self.column_values(&wanted);
        let chunks: Vec<ArrayRef> = ports.chunks().to_vec();
        let arrays = py.detach(|| -> Result<Vec<ArrayRef>, String> {
            let rows = rows_of(&chunks, &slots, column_name)?;
            tables
                .iter()
                .map(|table| dictionary(&rows, table))
                .collect()
        });
        let arrays = arrays.map_err(PyValueError::new_err)?;
        arrays
            .into_iter()
            .map(|array| {
                pyo3_arrow::PyArray::from_array_ref(array)
                    .to_pyarrow(py)
                    .map(Bound::unbind)
            })
            .collect()
    }
}

/// Where a row's transport comes from.
enum Slots {
    /// One slot for every row (`None`: a transport without ports, every row null).
    One(Option<usize>),
    /// A slot per row; [`NO_SLOT`] where the row's transport has no ports.
    Each(Arc<Vec<u8>>),
}

const NO_SLOT: u8 = u8::MAX;

impl Slots {
    fn at(&self, row: usize) -> Option<usize> {
        match self {
            Slots::One(slot) => *slot,
            Slots::Each(slots) => match slots.get(row) {
                Some(&NO_SLOT) | None => None,
                Some(&slot) => Some(usize::from(slot)),
            },
        }
    }
}

/// Each row's transport slot: a name (`tcp`, `TCP`) or a protocol number (`6`, `17`) as
/// text or integer; null answers on any transport, anything else on none.
fn slots_of(column: &PyChunkedArray) -> PyResult<Vec<u8>> {
    let mut slots = Vec::new();
    for chunk in column.chunks() {
        let slot = |slot: Option<usize>| slot.map_or(NO_SLOT, |s| s as u8);
        if let Some(dictionary) = chunk.as_any_dictionary_opt() {
            // A transport column is mostly a few values repeated: each value read once.
            let values = PyChunkedArray::from_array_refs(vec![dictionary.values().clone()])?;
            let of_value = slots_of(&values)?;
            let nulls = dictionary.keys().logical_nulls();
            slots.extend(
                dictionary.normalized_keys().into_iter().enumerate().map(
                    |(row, key)| match &nulls {
                        Some(nulls) if nulls.is_null(row) => ANY_SLOT as u8,
                        _ => of_value.get(key).copied().unwrap_or(NO_SLOT),
                    },
                ),
            );
        } else if chunk.data_type().is_integer() {
            let numbers = arrow_cast_to(chunk, &DataType::Int64)?;
            let numbers = numbers.as_primitive::<Int64Type>();
            slots.extend(numbers.iter().map(|number| match number {
                None => ANY_SLOT as u8,
                Some(number) => slot(protocol_slot(number)),
            }));
        } else {
            let texts = arrow_cast_to(chunk, &DataType::Utf8)?;
            let texts = texts.as_string::<i32>();
            slots.extend(texts.iter().map(|text| match text {
                None => ANY_SLOT as u8,
                Some(text) => slot(transport_slot(text.as_bytes())),
            }));
        }
    }
    Ok(slots)
}

fn arrow_cast_to(array: &ArrayRef, to: &DataType) -> PyResult<ArrayRef> {
    arrow_cast::cast(array, to).map_err(|error| PyValueError::new_err(error.to_string()))
}

/// Each row's (slot, port) as one index into a column's keys; `None` where the port is
/// missing, negative or over 65535, or its transport has no ports.
fn rows_of(chunks: &[ArrayRef], slots: &Slots, column_name: &str) -> Result<Vec<u32>, String> {
    const NONE: u32 = u32::MAX;
    let total: usize = chunks.iter().map(|chunk| chunk.len()).sum();
    let mut rows = Vec::with_capacity(total);
    let mut offset = 0;
    let at = |row: usize, port: Option<u16>| -> u32 {
        match (port, slots.at(row)) {
            (Some(port), Some(slot)) => (slot * 65536 + usize::from(port)) as u32,
            _ => NONE,
        }
    };
    for chunk in chunks {
        let data_type = chunk.data_type();
        if data_type.is_integer() {
            let cast = arrow_cast::cast(chunk, &DataType::Int64).map_err(|e| e.to_string())?;
            let ports = cast.as_primitive::<Int64Type>();
            let values = ports.values();
            match (ports.nulls(), slots) {
                // The common case, a column of ports and one of transports: one pass over
                // the two, no per-row dispatch.
                (None, Slots::Each(each)) => {
                    let each = each.get(offset..offset + values.len()).unwrap_or_default();
                    rows.extend(
                        values
                            .iter()
                            .zip(each)
                            .map(|(&port, &slot)| match u16::try_from(port) {
                                Ok(port) if slot != NO_SLOT => {
                                    u32::from(slot) * 65536 + u32::from(port)
                                }
                                _ => NONE,
                            }),
                    );
                }
                (None, _) => rows.extend(
                    values
                        .iter()
                        .enumerate()
                        .map(|(row, &port)| at(offset + row, u16::try_from(port).ok())),
                ),
                (Some(nulls), _) => rows.extend(values.iter().enumerate().map(|(row, &port)| {
                    let port = nulls.is_valid(row).then(|| u16::try_from(port).ok());
                    at(offset + row, port.flatten())
                })),
            }
        } else if data_type.is_floating() {
            let cast = arrow_cast::cast(chunk, &DataType::Float64).map_err(|e| e.to_string())?;
            let ports = cast.as_primitive::<Float64Type>();
            rows.extend(ports.iter().enumerate().map(|(row, port)| {
                // A port column with gaps comes as floats from pandas: 22.0 is port 22.
                let port = port
                    .filter(|p| p.fract() == 0.0 && (0.0..=65535.0).contains(p))
                    .map(|p| p as u16);
                at(offset + row, port)
            }));
        } else if matches!(
            data_type,
            DataType::Null | DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ) || matches!(data_type, DataType::Dictionary(..))
        {
            let cast = arrow_cast::cast(chunk, &DataType::Utf8).map_err(|e| e.to_string())?;
            let texts = cast.as_string::<i32>();
            for (row, text) in texts.iter().enumerate() {
                let port = match text.map(str::trim) {
                    None | Some("" | "-") => None,
                    Some(text) => match port_number(text.as_bytes()) {
                        Some(port) => Some(port),
                        None if text.bytes().all(|b| b.is_ascii_digit()) => None,
                        None => {
                            return Err(format!(
                                "column {column_name:?}, row {}: {text:?} is not a port number (0-65535)",
                                offset + row
                            ))
                        }
                    },
                };
                rows.push(at(offset + row, port));
            }
        } else {
            return Err(format!(
                "column {column_name:?} holds {data_type}, not port numbers (integers, or text of digits)"
            ));
        }
        offset += chunk.len();
    }
    Ok(rows)
}

/// A column's values for the rows: a dictionary array over its distinct values.
fn dictionary(rows: &[u32], table: &ColumnValues) -> Result<ArrayRef, String> {
    let mut keys: Vec<i32> = rows
        .iter()
        .map(|&row| table.keys.get(row as usize).copied().unwrap_or(-1))
        .collect();
    // Validity packed 64 rows a word; a null's key then points at the first value.
    let nulls = NullBuffer::new(BooleanBuffer::collect_bool(keys.len(), |i| keys[i] >= 0));
    for key in &mut keys {
        *key = (*key).max(0);
    }
    let values = StringArray::from_iter_values(&table.values);
    if values.is_empty() {
        // No value to point at: every row is null.
        let keys = Int32Array::new_null(rows.len());
        let values = StringArray::from(vec![""]);
        return DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values))
            .map(|array| Arc::new(array) as ArrayRef)
            .map_err(|e| e.to_string());
    }
    let keys = Int32Array::new(ScalarBuffer::from(keys), Some(nulls));
    DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values))
        .map(|array| Arc::new(array) as ArrayRef)
        .map_err(|e| e.to_string())
}

/// Runs the `portreg` command line with `args` (the program's name first); its exit code.
#[pyfunction]
fn cli(args: Vec<String>) -> u8 {
    portreg_cli::main_with(args.into_iter().map(Into::into).collect())
}

/// The native module.
#[pymodule]
fn _portreg(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<NativeRegistry>()?;
    module.add_function(wrap_pyfunction!(cli, module)?)?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
