//! Control flow: the join of a run-time `If` whose two branches the compiler flattened.

use crate::{Element, Error, Result};
use ndarray::{ArrayViewD, ArrayViewMutD};

/// Copy the value of the branch that ran into `out`: `then` when `cond` holds, else
/// `otherwise`. A branch that cannot run at the shapes the model was compiled for is
/// `None`, and choosing it is an error (as ONNX Runtime fails at run time).
///
/// ```
/// use ndarray::{arr0, array, Array1};
/// let (a, b) = (array![1.0f32, 2.0].into_dyn(), array![3.0f32, 4.0].into_dyn());
/// let mut out = Array1::<f32>::zeros(2).into_dyn();
/// let cond = arr0(false).into_dyn();
/// onnx2rs_runtime::ops::phi_into(cond.view(), Some(a.view()), Some(b.view()), out.view_mut()).unwrap();
/// assert_eq!(out, b);
/// assert!(onnx2rs_runtime::ops::phi_into(cond.view(), Some(a.view()), None, out.view_mut()).is_err());
/// ```
///
/// # Errors
/// [`Error::Shape`] if `cond` is not one element or the chosen value's shape is not
/// `out`'s; [`Error::Input`] if the chosen branch is `None`.
pub fn phi_into<T: Element>(
    cond: ArrayViewD<'_, bool>,
    then: Option<ArrayViewD<'_, T>>,
    otherwise: Option<ArrayViewD<'_, T>>,
    mut out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    let taken = super::scalar(&cond)?;
    let value = if taken { then } else { otherwise }.ok_or_else(|| {
        Error::Input(format!(
            "the {} branch of this If cannot run at the input shapes the model was compiled for",
            if taken { "then" } else { "else" }
        ))
    })?;
    if value.shape() != out.shape() {
        return Err(Error::Shape(format!(
            "the If branch gave shape {:?}, expected {:?}",
            value.shape(),
            out.shape()
        )));
    }
    out.assign(&value);
    Ok(())
}
