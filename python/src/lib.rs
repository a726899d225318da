//! The `hashsweep._native` Python module, re-exported by `hashsweep`: the engine's hashing
//! (batched, on the GPU or all CPU cores, with the GIL released) and its exact matcher over
//! memory-mapped reference sets.
//! Only conversion lives here; everything else is the library the binary uses.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use numpy::{PyArray1, PyReadonlyArray2, PyReadonlyArray3, PyUntypedArrayMethods};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;

use hashsweep_core::Frame;
use hashsweep_core::decode::{self, DecodeOptions};
use hashsweep_core::engine::{Algorithms, BackendChoice, Engine, FrameHashes};
use hashsweep_core::hash::{Dihedral, Pdq256};
use hashsweep_core::matching::{self, MatchParams, Planner, QueryHashes};
use hashsweep_core::pipeline::{self, HashSource};
use hashsweep_core::refset::{self, Algo};

/// The engine for a backend name, opened once per process: opening one finds and
/// initialises the GPU, which costs more than hashing a small batch, and callers such as
/// Ray's `map_batches` call once per batch.
fn backend(name: &str) -> PyResult<Arc<Engine>> {
    static OPENED: Mutex<Vec<(String, Arc<Engine>)>> = Mutex::new(Vec::new());
    let choice = match name {
        "auto" => BackendChoice::Auto,
        "gpu" => BackendChoice::Gpu,
        "cpu" => BackendChoice::Cpu,
        other => {
            return Err(PyValueError::new_err(format!(
                "backend must be auto, gpu or cpu, not {other:?}"
            )));
        }
    };
    let mut opened = OPENED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, e)) = opened.iter().find(|(n, _)| n == name) {
        return Ok(e.clone());
    }
    let engine =
        Arc::new(Engine::open(choice, None).map_err(|e| PyOSError::new_err(e.to_string()))?);
    opened.push((name.to_string(), engine.clone()));
    Ok(engine)
}

fn algorithms(names: &[String]) -> PyResult<Algorithms> {
    let mut a = Algorithms {
        pdq: false,
        phash: false,
    };
    for n in names {
        match n.as_str() {
            "pdq" => a.pdq = true,
            "phash" => a.phash = true,
            other => {
                return Err(PyValueError::new_err(format!(
                    "algorithms are pdq and phash, not {other:?}"
                )));
            }
        }
    }
    Ok(a)
}

/// One result as a dict: hashes (hex), quality, size, status and error, as `hash` writes.
fn result<'py>(
    py: Python<'py>,
    path: Option<&str>,
    hashed: Result<(u32, u32, FrameHashes), String>,
    dihedral: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    if let Some(p) = path {
        d.set_item("path", p)?;
    }
    match hashed {
        Ok((w, h, hashes)) => {
            d.set_item("status", "ok")?;
            d.set_item("error", py.None())?;
            d.set_item("width", w)?;
            d.set_item("height", h)?;
            if let Some(p) = hashes.pdq {
                d.set_item("pdq", p.original().to_string())?;
                d.set_item("quality", p.quality.0)?;
                if dihedral {
                    let v = PyDict::new(py);
                    for x in &Dihedral::ALL[1..] {
                        v.set_item(x.name(), p.variant(*x).to_string())?;
                    }
                    d.set_item("dihedral", v)?;
                }
            }
            if let Some(p) = hashes.phash {
                d.set_item("phash", p.to_string())?;
            }
        }
        Err(e) => {
            d.set_item("status", "error")?;
            d.set_item("error", e)?;
        }
    }
    Ok(d)
}

/// hash_files(paths, algorithms=("pdq",), dihedral=False, backend="auto")
/// --
///
/// Hash image files in batches on the engine (GPU and CPU together with "auto"), with
/// the GIL released. One dict per path, in order (one per picture inside an archive, each
/// under its own path): path, status ("ok" or "error"), error,
/// width, height, pdq, quality, phash (and with dihedral, the seven other PDQ hashes).
#[pyfunction]
#[pyo3(signature = (paths, algorithms=vec!["pdq".to_string()], dihedral=false, backend="auto"))]
fn hash_files<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    algorithms: Vec<String>,
    dihedral: bool,
    backend: &str,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let algos = self::algorithms(&algorithms)?;
    let engine = self::backend(backend)?;
    let results = py.allow_threads(|| {
        let mut out = Vec::with_capacity(paths.len());
        let source = HashSource::new(
            &engine,
            algos,
            DecodeOptions::default(),
            pipeline::budget_of(None),
        );
        // An archive's pictures come back under their own paths, one result each.
        source.for_each(&paths, |p, r| {
            out.push((p.to_path_buf(), r.map(|h| (h.width, h.height, h.hashes))))
        });
        out
    });
    results
        .into_iter()
        .map(|(p, r)| result(py, Some(&p.to_string_lossy()), r, dihedral))
        .collect()
}

/// hash_bytes(data, algorithms=("pdq",), dihedral=False, backend="auto")
/// --
///
/// Hash one encoded image held in memory (JPEG, PNG, GIF, WebP, BMP, TIFF). Raises
/// ValueError when it does not decode, with the same message as the command line.
#[pyfunction]
#[pyo3(signature = (data, algorithms=vec!["pdq".to_string()], dihedral=false, backend="auto"))]
fn hash_bytes<'py>(
    py: Python<'py>,
    data: Vec<u8>,
    algorithms: Vec<String>,
    dihedral: bool,
    backend: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let algos = self::algorithms(&algorithms)?;
    let engine = self::backend(backend)?;
    let r = py.allow_threads(|| decode_and_hash(&engine, &[data], algos).remove(0));
    match r {
        Ok(h) => result(py, None, Ok(h), dihedral),
        Err(e) => Err(PyValueError::new_err(e)),
    }
}

/// Encoded images decoded on all cores and hashed, in rounds within the memory budget
/// the command line uses (half of the machine's or the cgroup's memory): size and hashes of
/// each, or why it did not decode.
fn decode_and_hash(
    engine: &Engine,
    datas: &[Vec<u8>],
    algos: Algorithms,
) -> Vec<Result<(u32, u32, FrameHashes), String>> {
    let budget = pipeline::budget_of(None);
    pipeline::hash_bytes(engine, datas, algos, &DecodeOptions::default(), &budget)
}

/// hash_bytes_batch(datas, algorithms=("pdq",), dihedral=False, backend="auto")
/// --
///
/// Hash many encoded images held in memory (objects read from a store, say): decoded on
/// all cores, hashed as one batch, the GIL released. One dict per item, in order, as
/// hash_files gives; an item that does not decode has status "error" and its reason.
#[pyfunction]
#[pyo3(signature = (datas, algorithms=vec!["pdq".to_string()], dihedral=false, backend="auto"))]
fn hash_bytes_batch<'py>(
    py: Python<'py>,
    datas: Vec<Vec<u8>>,
    algorithms: Vec<String>,
    dihedral: bool,
    backend: &str,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let algos = self::algorithms(&algorithms)?;
    let engine = self::backend(backend)?;
    let results = py.allow_threads(|| decode_and_hash(&engine, &datas, algos));
    results
        .into_iter()
        .map(|r| result(py, None, r, dihedral))
        .collect()
}

/// hash_array(array, algorithms=("pdq",), dihedral=False, backend="auto")
/// --
///
/// Hash decoded pixels: a numpy uint8 array of shape (height, width, 3), RGB.
#[pyfunction]
#[pyo3(signature = (array, algorithms=vec!["pdq".to_string()], dihedral=false, backend="auto"))]
fn hash_array<'py>(
    py: Python<'py>,
    array: PyReadonlyArray3<'py, u8>,
    algorithms: Vec<String>,
    dihedral: bool,
    backend: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let shape = array.shape();
    if shape[2] != 3 {
        return Err(PyValueError::new_err(format!(
            "expected an (height, width, 3) RGB array, got shape {shape:?}"
        )));
    }
    let (h, w) = (shape[0] as u32, shape[1] as u32);
    let rgb: Vec<u8> = array.as_array().iter().copied().collect();
    let frame = Frame::new(w, h, rgb).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let algos = self::algorithms(&algorithms)?;
    let engine = self::backend(backend)?;
    let hashes = py.allow_threads(|| engine.hash(&[&frame], algos).remove(0));
    result(py, None, Ok((w, h, hashes)), dihedral)
}

/// Matches as numpy arrays: query index, entry id, distance.
type Found<'py> = (
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<u32>>,
);

/// A reference set, memory-mapped as the command line maps it.
#[pyclass(name = "RefSet", module = "hashsweep")]
struct PyRefSet {
    set: refset::RefSet,
}

fn query_hashes(queries: &Bound<'_, PyAny>, algo: Algo) -> PyResult<QueryHashes> {
    let mut q = QueryHashes::new(algo);
    let parse = |hex: &str| -> PyResult<Vec<u64>> {
        refset::input::parse_hash(hex, algo)
            .ok_or_else(|| PyValueError::new_err(format!("{hex:?} is not a {} hash", algo.name())))
    };
    if let Ok(rows) = queries.extract::<PyReadonlyArray2<'_, u8>>() {
        let bytes = algo.bits() / 8;
        if rows.shape()[1] != bytes {
            return Err(PyValueError::new_err(format!(
                "a {} hash is {bytes} bytes: expected shape (n, {bytes})",
                algo.name()
            )));
        }
        for (i, row) in rows.as_array().rows().into_iter().enumerate() {
            let bytes: Vec<u8> = row.iter().copied().collect();
            q.push(i as u32, 0, &hashsweep_core::hash::words_from_hex_order(&bytes));
        }
        return Ok(q);
    }
    let hexes: Vec<String> = queries.extract().map_err(|_| {
        PyValueError::new_err("queries are hex strings or a uint8 array of shape (n, 32)")
    })?;
    for (i, h) in hexes.iter().enumerate() {
        q.push(i as u32, 0, &parse(h)?);
    }
    Ok(q)
}

#[pymethods]
impl PyRefSet {
    /// Open a set file (memory-mapped; nothing is read into memory until matched).
    #[staticmethod]
    fn open(path: PathBuf) -> PyResult<Self> {
        let set = refset::RefSet::open(&path).map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(PyRefSet { set })
    }

    /// Build a set from hash lists (every format `hashsweep refs build` reads) and open it.
    #[staticmethod]
    #[pyo3(signature = (inputs, output, algo=None))]
    fn build(
        py: Python<'_>,
        inputs: Vec<PathBuf>,
        output: PathBuf,
        algo: Option<&str>,
    ) -> PyResult<Self> {
        let algo = match algo {
            Some(a) => Some(
                Algo::from_name(a)
                    .ok_or_else(|| PyValueError::new_err(format!("unknown algorithm {a:?}")))?,
            ),
            None => None,
        };
        // One set comes back: lists of several kinds are refused before anything is
        // written, rather than one kind picked silently.
        let opts = refset::build::BuildOptions {
            algo,
            one_kind: true,
            ..Default::default()
        };
        let built = py
            .allow_threads(|| refset::build::build(&inputs, vec![], None, &output, &opts))
            .map_err(|e| PyValueError::new_err(format!("{e} (pass algo=)")))?;
        Self::open(built.sets[0].path.clone())
    }

    fn __len__(&self) -> usize {
        self.set.len()
    }

    #[getter]
    fn algorithm(&self) -> &'static str {
        self.set.algo().name()
    }

    /// The labels of entry `i` (what its list said about it).
    fn labels(&self, i: usize) -> PyResult<Vec<String>> {
        if i >= self.set.len() {
            return Err(PyValueError::new_err(format!(
                "entry {i} of {}",
                self.set.len()
            )));
        }
        Ok(self.set.labels(i).into_iter().map(String::from).collect())
    }

    /// match(queries, max_distance=None, top_k=None, backend="auto", index="auto")
    /// --
    ///
    /// Every (query, entry) pair within max_distance bits (default: 31 for PDQ, 10 for
    /// pHash), exactly, on the GPU or the CPU. Queries are hex strings or a numpy uint8
    /// array of shape (n, 32) (the hash's bytes in hex order). Returns three numpy
    /// arrays: query index (uint32), entry id (uint64), distance (uint32). index: "auto"
    /// (the cost model picks the set's multi-index or a sweep), "mih" or "flat"; all
    /// three give the same pairs.
    #[pyo3(name = "match", signature = (queries, max_distance=None, top_k=None, backend="auto", index="auto"))]
    fn match_<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        max_distance: Option<u32>,
        top_k: Option<usize>,
        backend: &str,
        index: &str,
    ) -> PyResult<Found<'py>> {
        let choice: matching::IndexChoice = index.parse().map_err(PyValueError::new_err)?;
        matching::planner::require_indexes(std::iter::once(&self.set), choice)
            .map_err(PyValueError::new_err)?;
        let algo = self.set.algo();
        if algo.is_digest() {
            return Err(PyValueError::new_err(format!(
                "a {} set matches files exactly: scan them",
                algo.name()
            )));
        }
        let q = query_hashes(queries, algo)?;
        let engine = if backend == "cpu" {
            None
        } else {
            Some(self::backend(backend)?)
        };
        let params = MatchParams {
            max_distance: max_distance.unwrap_or_else(|| matching::default_max_distance(algo)),
            top_k,
        };
        let (found, fallback) = py.allow_threads(|| {
            let planner =
                Planner::on_device(engine.as_ref().and_then(|e| e.gpu_context())).index(choice);
            let found = planner.run(&self.set, &q, &params);
            (found, planner.fallback().map(String::from))
        });
        // Same answers, slower: said the way Python says such things.
        if let Some(why) = fallback {
            let category = py.get_type::<pyo3::exceptions::PyRuntimeWarning>();
            PyErr::warn(py, &category, &std::ffi::CString::new(why)?, 1)?;
        }
        let ids = self.set.ids();
        let qi: Vec<u32> = found.iter().map(|m| m.query).collect();
        let id: Vec<u64> = found.iter().map(|m| ids[m.entry as usize]).collect();
        let d: Vec<u32> = found.iter().map(|m| m.distance).collect();
        Ok((
            PyArray1::from_vec(py, qi),
            PyArray1::from_vec(py, id),
            PyArray1::from_vec(py, d),
        ))
    }

    /// The ids of all entries, in order (numpy uint64).
    fn ids<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u64>> {
        PyArray1::from_slice(py, self.set.ids())
    }
}

/// PDQ hex of a hash given as 32 bytes in hex order (a row of a query array).
#[pyfunction]
fn pdq_hex(bytes: Vec<u8>) -> PyResult<String> {
    let words: [u64; 4] = hashsweep_core::hash::words_from_hex_order(&bytes)
        .try_into()
        .map_err(|_| PyValueError::new_err(format!("a PDQ hash is 32 bytes, not {}", bytes.len())))?;
    Ok(Pdq256(words).to_string())
}

#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(hash_files, m)?)?;
    m.add_function(wrap_pyfunction!(hash_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(hash_array, m)?)?;
    m.add_function(wrap_pyfunction!(hash_bytes_batch, m)?)?;
    m.add_function(wrap_pyfunction!(pdq_hex, m)?)?;
    m.add_class::<PyRefSet>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
