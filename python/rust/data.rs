//! The bytes a caller hands to `receive_data` and `write`: `bytes` (kept, not copied),
//! `bytearray` or `memoryview` (copied once: the limited API an abi3 wheel for Python
//! 3.10 builds against has no buffer access, which came in 3.11).

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyMemoryView;

/// Bytes from Python, readable without the GIL.
pub(crate) struct Data(PyBackedBytes);

impl<'a, 'py> FromPyObject<'a, 'py> for Data {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(bytes) = obj.extract::<PyBackedBytes>() {
            return Ok(Self(bytes));
        }
        if obj.cast::<PyMemoryView>().is_ok() {
            let copy = obj.call_method0("tobytes")?;
            return Ok(Self(copy.extract::<PyBackedBytes>()?));
        }
        Err(PyTypeError::new_err(format!(
            "expected bytes, bytearray or memoryview, not {}",
            obj.get_type().name()?
        )))
    }
}

impl std::ops::Deref for Data {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}
