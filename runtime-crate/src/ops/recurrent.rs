//! Recurrent layers: ONNX RNN, GRU and LSTM in one loop, forward, reverse or both ways.
//!
//! Each step is a few dot products per batch row over contiguous weight rows;
//! the state and the gates live in the caller's workspace, so a run allocates
//! nothing. Spec: <https://onnx.ai/onnx/operators/onnx__LSTM.html> (and GRU, RNN).

use crate::{Error, Result};
use multiversion::multiversion;
use ndarray::{ArrayViewD, ArrayViewMutD};

use super::unary::{sigmoid_f32, tanh_f32};
use super::Unary;

/// The cell of a recurrent layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// `H = f(X·Wᵀ + H·Rᵀ + b)`: one gate, one activation.
    Rnn,
    /// Gates z, r, h (ONNX order); activations f, g.
    Gru {
        /// Apply the reset gate after the recurrent product (PyTorch's form).
        linear_before_reset: bool,
    },
    /// Gates i, o, f, c (ONNX order) with optional peepholes; activations f, g, h.
    Lstm,
}

impl Cell {
    /// Gates per hidden unit.
    #[must_use]
    pub fn gates(self) -> usize {
        match self {
            Cell::Rnn => 1,
            Cell::Gru { .. } => 3,
            Cell::Lstm => 4,
        }
    }

    /// Activation functions per direction.
    #[must_use]
    pub fn activations(self) -> usize {
        match self {
            Cell::Rnn => 1,
            Cell::Gru { .. } => 2,
            Cell::Lstm => 3,
        }
    }

    /// Workspace floats [`recurrent_into`] needs for `batch` rows of `hidden` units fed
    /// `input` features: the states and gates, and one direction's W and R transposed.
    #[must_use]
    pub fn workspace(self, batch: usize, hidden: usize, input: usize) -> usize {
        batch * hidden * (3 + self.gates()) + self.gates() * hidden * (input + hidden)
    }
}

/// Attributes of a recurrent node.
#[derive(Debug, Clone, Copy)]
pub struct RecurrentParams<'a> {
    /// The cell.
    pub cell: Cell,
    /// Hidden units.
    pub hidden: usize,
    /// Run the (single) direction from the end of each sequence.
    pub reverse: bool,
    /// `cell.activations()` functions per direction, directions in order.
    pub activations: &'a [Unary],
    /// Clip gate pre-activations to `[-clip, clip]`.
    pub clip: Option<f32>,
    /// `layout = 1`: batch before time in X, Y, and the states.
    pub batch_first: bool,
}

/// The inputs of a recurrent node (ONNX names and shapes, `layout = 0` shown).
#[derive(Debug, Clone)]
pub struct RecurrentInputs<'a> {
    /// `[seq, batch, input]`
    pub x: ArrayViewD<'a, f32>,
    /// `[directions, gates · hidden, input]`
    pub w: ArrayViewD<'a, f32>,
    /// `[directions, gates · hidden, hidden]`
    pub r: ArrayViewD<'a, f32>,
    /// `[directions, 2 · gates · hidden]`: Wb then Rb.
    pub b: Option<ArrayViewD<'a, f32>>,
    /// `[batch]`: valid steps per sequence.
    pub sequence_lens: Option<ArrayViewD<'a, i32>>,
    /// `[directions, batch, hidden]`
    pub initial_h: Option<ArrayViewD<'a, f32>>,
    /// `[directions, batch, hidden]` (LSTM)
    pub initial_c: Option<ArrayViewD<'a, f32>>,
    /// `[directions, 3 · hidden]`: peepholes i, o, f (LSTM)
    pub p: Option<ArrayViewD<'a, f32>>,
}

/// The outputs of a recurrent node; each is optional in ONNX.
#[derive(Debug)]
pub struct RecurrentOutputs<'a> {
    /// `[seq, directions, batch, hidden]`; zero past a sequence's end.
    pub y: Option<ArrayViewMutD<'a, f32>>,
    /// `[directions, batch, hidden]`: the last valid state.
    pub y_h: Option<ArrayViewMutD<'a, f32>>,
    /// `[directions, batch, hidden]`: the last cell state (LSTM).
    pub y_c: Option<ArrayViewMutD<'a, f32>>,
}

fn contiguous<'a>(a: &'a ArrayViewD<'_, f32>, what: &str) -> Result<&'a [f32]> {
    a.as_slice()
        .ok_or_else(|| Error::Shape(format!("recurrent {what} must be contiguous")))
}

/// `dst` (`[cols, rows]`) = `src` (`[rows, cols]`) transposed, in 8 × 8 blocks so that
/// both sides are read and written a cache line at a time.
fn transpose_into(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    const B: usize = 8;
    for i0 in (0..rows).step_by(B) {
        for j0 in (0..cols).step_by(B) {
            for i in i0..(i0 + B).min(rows) {
                for j in j0..(j0 + B).min(cols) {
                    dst[j * rows + i] = src[i * cols + j];
                }
            }
        }
    }
}

/// Steps (batch rows × sequence length) from which transposing W and R once pays: each
/// step then makes its products as multiply-adds along contiguous rows of the transposed
/// weights. Fewer steps (silero-vad's one step a call) take dot products with W's and R's
/// own rows instead, and transpose nothing.
const TRANSPOSE_FROM_STEPS: usize = 16;

/// A recurrent weight matrix (`[gates · hidden, width]`) as a step reads it.
#[derive(Clone, Copy)]
enum Weights<'a> {
    /// Transposed once per call: `[width, gates · hidden]`.
    Transposed(&'a [f32]),
    /// As the model stores it: `[gates · hidden, width]`.
    Rows(&'a [f32]),
}

impl Weights<'_> {
    /// `out[c] += Σ_j v[j] · W[first + c, j]`; `gates` is the number of columns of the
    /// transposed form (gates · hidden).
    #[inline(always)]
    fn accumulate(self, out: &mut [f32], v: &[f32], gates: usize, first: usize) {
        match self {
            Weights::Transposed(t) => accumulate(out, v, t, gates, first),
            Weights::Rows(w) => {
                let rows = w[first * v.len()..].chunks_exact(v.len());
                for (o, row) in out.iter_mut().zip(rows) {
                    *o += dot(row, v);
                }
            }
        }
    }
}

/// `Σ a[i] · b[i]`, in 16 lanes that vectorise.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const L: usize = 16;
    let mut lanes = [0.0f32; L];
    let (ac, bc) = (a.chunks_exact(L), b.chunks_exact(L));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for k in 0..L {
            lanes[k] += x[k] * y[k];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// `out[c] += Σ_j v[j] · t[j, first + c]` for a row-major `t` of `width` columns: a
/// matrix-vector product as one vectorised multiply-add per element of `v`.
#[inline(always)]
fn accumulate(out: &mut [f32], v: &[f32], t: &[f32], width: usize, first: usize) {
    for (j, &vj) in v.iter().enumerate() {
        let row = &t[j * width + first..][..out.len()];
        for (o, &w) in out.iter_mut().zip(row) {
            *o += vj * w;
        }
    }
}

/// `out[c] = wb[first + c] + rb[first + c]`, each bias optional.
#[inline(always)]
fn biases(out: &mut [f32], wb: Option<&[f32]>, rb: Option<&[f32]>, first: usize) {
    let n = out.len();
    out.fill(0.0);
    for b in [wb, rb].into_iter().flatten() {
        for (o, &v) in out.iter_mut().zip(&b[first..first + n]) {
            *o += v;
        }
    }
}

/// Offset of `[outer, mid, inner]` element `(i, j)`'s row in a 3-D buffer, whichever axis leads.
fn row(first: usize, second: usize, n_second: usize, len: usize) -> usize {
    (first * n_second + second) * len
}

/// Run an RNN, GRU or LSTM layer over whole sequences.
///
/// ```
/// use onnx2rs_runtime::ndarray::{Array, ArrayD, IxDyn};
/// use onnx2rs_runtime::ops::{recurrent_into, Cell, RecurrentInputs, RecurrentOutputs, RecurrentParams, Unary};
/// // One step of a 1-unit RNN with identity activation: H = x·w + h0·r.
/// let x = Array::from_elem(IxDyn(&[1, 1, 1]), 2.0f32);
/// let w = Array::from_elem(IxDyn(&[1, 1, 1]), 3.0f32);
/// let r = Array::from_elem(IxDyn(&[1, 1, 1]), 0.5f32);
/// let h0 = Array::from_elem(IxDyn(&[1, 1, 1]), 4.0f32);
/// let mut y_h = ArrayD::<f32>::zeros(IxDyn(&[1, 1, 1]));
/// let params = RecurrentParams { cell: Cell::Rnn, hidden: 1, reverse: false,
///     activations: &[Unary::Identity], clip: None, batch_first: false };
/// let inputs = RecurrentInputs { x: x.view(), w: w.view(), r: r.view(), b: None,
///     sequence_lens: None, initial_h: Some(h0.view()), initial_c: None, p: None };
/// let outputs = RecurrentOutputs { y: None, y_h: Some(y_h.view_mut()), y_c: None };
/// recurrent_into(params, inputs, outputs, &mut vec![0.0; Cell::Rnn.workspace(1, 1, 1)]).unwrap();
/// assert_eq!(y_h[[0, 0, 0]], 8.0);
/// ```
///
/// # Errors
/// [`Error::Shape`] if shapes disagree, a buffer is not contiguous or the
/// workspace is short; [`Error::Index`] if a sequence length exceeds the sequence.
pub fn recurrent_into(
    p: RecurrentParams<'_>,
    inputs: RecurrentInputs<'_>,
    mut outputs: RecurrentOutputs<'_>,
    workspace: &mut [f32],
) -> Result<()> {
    let RecurrentInputs {
        x,
        w,
        r,
        b,
        sequence_lens,
        initial_h,
        initial_c,
        p: peep,
    } = inputs;
    let (g, h) = (p.cell.gates(), p.hidden);
    if x.ndim() != 3 || w.ndim() != 3 || r.ndim() != 3 {
        return Err(Error::Shape("recurrent X, W and R must be 3-D".into()));
    }
    let (seq, batch, input) = if p.batch_first {
        (x.shape()[1], x.shape()[0], x.shape()[2])
    } else {
        (x.shape()[0], x.shape()[1], x.shape()[2])
    };
    let dirs = w.shape()[0];
    let n_act = p.cell.activations();
    if w.shape() != [dirs, g * h, input]
        || r.shape() != [dirs, g * h, h]
        || p.activations.len() != dirs * n_act
        || (p.reverse && dirs != 1)
    {
        return Err(Error::Shape(format!(
            "recurrent W {:?} / R {:?} do not fit X {:?} with hidden size {h}",
            w.shape(),
            r.shape(),
            x.shape()
        )));
    }
    let state_shape = if p.batch_first {
        [batch, dirs, h]
    } else {
        [dirs, batch, h]
    };
    let y_shape = if p.batch_first {
        [batch, seq, dirs, h]
    } else {
        [seq, dirs, batch, h]
    };
    let shape_ok = |s: Option<&[usize]>, want: &[usize]| s.is_none_or(|s| s == want);
    if !shape_ok(b.as_ref().map(|a| a.shape()), &[dirs, 2 * g * h])
        || !shape_ok(sequence_lens.as_ref().map(|a| a.shape()), &[batch])
        || !shape_ok(initial_h.as_ref().map(|a| a.shape()), &state_shape)
        || !shape_ok(initial_c.as_ref().map(|a| a.shape()), &state_shape)
        || !shape_ok(peep.as_ref().map(|a| a.shape()), &[dirs, 3 * h])
        || !shape_ok(outputs.y.as_ref().map(|a| a.shape()), &y_shape)
        || !shape_ok(outputs.y_h.as_ref().map(|a| a.shape()), &state_shape)
        || !shape_ok(outputs.y_c.as_ref().map(|a| a.shape()), &state_shape)
    {
        return Err(Error::Shape(
            "recurrent bias, sequence_lens, states, peepholes or outputs have the wrong shape"
                .into(),
        ));
    }
    let (xs, ws, rs) = (
        contiguous(&x, "X")?,
        contiguous(&w, "W")?,
        contiguous(&r, "R")?,
    );
    let bs = b.as_ref().map(|a| contiguous(a, "B")).transpose()?;
    let h0 = initial_h
        .as_ref()
        .map(|a| contiguous(a, "initial_h"))
        .transpose()?;
    let c0 = initial_c
        .as_ref()
        .map(|a| contiguous(a, "initial_c"))
        .transpose()?;
    let ps = peep.as_ref().map(|a| contiguous(a, "P")).transpose()?;
    if workspace.len() < p.cell.workspace(batch, h, input) {
        return Err(Error::Shape("recurrent workspace is too short".into()));
    }
    let (state, rest) = workspace.split_at_mut(batch * h);
    let (cell, rest) = rest.split_at_mut(batch * h);
    let (tmp, rest) = rest.split_at_mut(batch * h);
    let (gates, rest) = rest.split_at_mut(batch * g * h);
    let (wt, rest) = rest.split_at_mut(input * g * h);
    let rt = &mut rest[..h * g * h];
    if let Some(y) = outputs.y.as_mut() {
        y.fill(0.0);
    }
    let state_row = |d: usize, bi: usize| {
        if p.batch_first {
            row(bi, d, dirs, h)
        } else {
            row(d, bi, batch, h)
        }
    };
    for d in 0..dirs {
        let reverse = p.reverse || d == 1;
        let acts = &p.activations[d * n_act..(d + 1) * n_act];
        let (wd, rd) = (
            &ws[d * g * h * input..(d + 1) * g * h * input],
            &rs[d * g * h * h..(d + 1) * g * h * h],
        );
        let (wb, rb) = match bs {
            Some(bs) => {
                let bd = &bs[d * 2 * g * h..(d + 1) * 2 * g * h];
                (Some(&bd[..g * h]), Some(&bd[g * h..]))
            }
            None => (None, None),
        };
        let pd = ps.map(|ps| &ps[d * 3 * h..(d + 1) * 3 * h]);
        // Transposed, each step's products become g·h-wide multiply-adds, one per input.
        let (w_step, r_step) = if batch * seq >= TRANSPOSE_FROM_STEPS {
            transpose_into(wd, g * h, input, wt);
            transpose_into(rd, g * h, h, rt);
            (Weights::Transposed(wt), Weights::Transposed(rt))
        } else {
            (Weights::Rows(wd), Weights::Rows(rd))
        };
        for bi in 0..batch {
            let at = state_row(d, bi);
            let (hs, cs) = (
                &mut state[bi * h..(bi + 1) * h],
                &mut cell[bi * h..(bi + 1) * h],
            );
            match h0 {
                Some(h0) => hs.copy_from_slice(&h0[at..at + h]),
                None => hs.fill(0.0),
            }
            match c0 {
                Some(c0) => cs.copy_from_slice(&c0[at..at + h]),
                None => cs.fill(0.0),
            }
        }
        for bi in 0..batch {
            let len = match &sequence_lens {
                Some(l) => usize::try_from(l[[bi]])
                    .ok()
                    .filter(|&n| n <= seq)
                    .ok_or_else(|| {
                        Error::Index(format!("sequence length {} outside 0..={seq}", l[[bi]]))
                    })?,
                None => seq,
            };
            let hs = &mut state[bi * h..(bi + 1) * h];
            let cs = &mut cell[bi * h..(bi + 1) * h];
            let tmp = &mut tmp[bi * h..(bi + 1) * h];
            let gates = &mut gates[bi * g * h..(bi + 1) * g * h];
            for step in 0..len {
                let t = if reverse { len - 1 - step } else { step };
                let xt = if p.batch_first {
                    &xs[row(bi, t, seq, input)..][..input]
                } else {
                    &xs[row(t, bi, batch, input)..][..input]
                };
                let step_state = StepState {
                    x: xt,
                    w: w_step,
                    r: r_step,
                    wb,
                    rb,
                    peep: pd,
                    acts,
                    clip: p.clip,
                    hidden: h,
                };
                advance(&step_state, p.cell, hs, cs, (tmp, gates));
                if let Some(y) = outputs.y.as_mut() {
                    let ys = y
                        .as_slice_mut()
                        .ok_or_else(|| Error::Shape("recurrent Y must be contiguous".into()))?;
                    let at = if p.batch_first {
                        ((bi * seq + t) * dirs + d) * h
                    } else {
                        ((t * dirs + d) * batch + bi) * h
                    };
                    ys[at..at + h].copy_from_slice(hs);
                }
            }
        }
        for (out, src) in [
            (outputs.y_h.as_mut(), &*state),
            (outputs.y_c.as_mut(), &*cell),
        ] {
            if let Some(out) = out {
                let os = out
                    .as_slice_mut()
                    .ok_or_else(|| Error::Shape("recurrent states must be contiguous".into()))?;
                for bi in 0..batch {
                    let at = state_row(d, bi);
                    os[at..at + h].copy_from_slice(&src[bi * h..(bi + 1) * h]);
                }
            }
        }
    }
    Ok(())
}

/// One step of one batch row ([`StepState::run`]), compiled for AVX-512 and AVX2 as
/// well; the CPU picks at run time.
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn advance<'s, 'a, 'h, 'c, 't, 'g>(
    state: &'s StepState<'a>,
    cell: Cell,
    h: &'h mut [f32],
    c: &'c mut [f32],
    (tmp, gates): (&'t mut [f32], &'g mut [f32]),
) {
    state.run(cell, h, c, tmp, gates);
}

/// `op(v)`, with the gates' usual functions inlined into the caller.
#[inline(always)]
fn activate(op: Unary, v: f32) -> f32 {
    match op {
        Unary::Sigmoid => sigmoid_f32(v),
        Unary::Tanh => tanh_f32(v),
        _ => op.apply_f32(v),
    }
}

/// What one step of one batch row reads.
struct StepState<'a> {
    x: &'a [f32],
    /// W (`[gates · hidden, input]`), maybe transposed.
    w: Weights<'a>,
    /// R (`[gates · hidden, hidden]`), maybe transposed.
    r: Weights<'a>,
    wb: Option<&'a [f32]>,
    rb: Option<&'a [f32]>,
    peep: Option<&'a [f32]>,
    acts: &'a [Unary],
    clip: Option<f32>,
    hidden: usize,
}

impl StepState<'_> {
    #[inline(always)]
    fn act(&self, k: usize, v: f32) -> f32 {
        let v = match self.clip {
            Some(c) => v.clamp(-c, c),
            None => v,
        };
        activate(self.acts[k], v)
    }

    /// [`StepState::act`] over a slice; `clip` only when `clipped`.
    #[inline(always)]
    fn act_all(&self, k: usize, values: &mut [f32], clipped: bool) {
        if let (Some(c), true) = (self.clip, clipped) {
            values.iter_mut().for_each(|v| *v = v.clamp(-c, c));
        }
        // One loop per function, so that each vectorises.
        match self.acts[k] {
            Unary::Sigmoid => values.iter_mut().for_each(|v| *v = sigmoid_f32(*v)),
            Unary::Tanh => values.iter_mut().for_each(|v| *v = tanh_f32(*v)),
            op => values.iter_mut().for_each(|v| *v = op.apply_f32(*v)),
        }
    }

    /// Advance `h` (and `c`, for LSTM) by one step.
    #[inline(always)]
    fn run(&self, cell: Cell, h: &mut [f32], c: &mut [f32], tmp: &mut [f32], gates: &mut [f32]) {
        let n = self.hidden;
        let width = gates.len();
        match cell {
            Cell::Rnn => {
                biases(gates, self.wb, self.rb, 0);
                self.w.accumulate(gates, self.x, width, 0);
                self.r.accumulate(gates, h, width, 0);
                self.act_all(0, gates, true);
                h.copy_from_slice(gates);
            }
            Cell::Gru {
                linear_before_reset,
            } => {
                // z and r from the input and the previous state; the candidate's input part.
                let (zr, candidate) = gates.split_at_mut(2 * n);
                biases(zr, self.wb, self.rb, 0);
                self.r.accumulate(zr, h, width, 0);
                biases(candidate, self.wb, None, 2 * n);
                self.w.accumulate(gates, self.x, width, 0);
                let (zr, candidate) = gates.split_at_mut(2 * n);
                self.act_all(0, zr, true);
                let (z, r) = zr.split_at(n);
                // The candidate's state part: r ⊙ (R·h + Rb), or R·(r ⊙ h) + Rb.
                if linear_before_reset {
                    biases(tmp, None, self.rb, 2 * n);
                    self.r.accumulate(tmp, h, width, 2 * n);
                    for ((v, &t), &rj) in candidate.iter_mut().zip(tmp.iter()).zip(r) {
                        *v += rj * t;
                    }
                } else {
                    for ((t, &hj), &rj) in tmp.iter_mut().zip(h.iter()).zip(r) {
                        *t = rj * hj;
                    }
                    if let Some(b) = self.rb {
                        for (v, &bv) in candidate.iter_mut().zip(&b[2 * n..3 * n]) {
                            *v += bv;
                        }
                    }
                    self.r.accumulate(candidate, tmp, width, 2 * n);
                }
                self.act_all(1, candidate, true);
                for ((hj, &v), &zj) in h.iter_mut().zip(candidate.iter()).zip(z) {
                    *hj = (1.0 - zj) * v + zj * *hj;
                }
            }
            Cell::Lstm => {
                biases(gates, self.wb, self.rb, 0);
                self.w.accumulate(gates, self.x, width, 0);
                self.r.accumulate(gates, h, width, 0);
                if self.peep.is_none() {
                    // Gates i, o, f, then the candidate, each activated as one slice.
                    let (iof, candidate) = gates.split_at_mut(3 * n);
                    self.act_all(0, iof, true);
                    self.act_all(1, candidate, true);
                    for (j, cj) in c.iter_mut().enumerate() {
                        *cj = iof[2 * n + j] * *cj + iof[j] * candidate[j];
                    }
                    tmp.copy_from_slice(c);
                    self.act_all(2, tmp, false);
                    for ((hj, &t), &o) in h.iter_mut().zip(tmp.iter()).zip(&iof[n..2 * n]) {
                        *hj = o * t;
                    }
                    return;
                }
                let peep = |k: usize, j: usize| self.peep.map_or(0.0, |p| p[k * n + j]);
                for j in 0..n {
                    let i = self.act(0, gates[j] + peep(0, j) * c[j]);
                    let f = self.act(0, gates[2 * n + j] + peep(2, j) * c[j]);
                    let candidate = self.act(1, gates[3 * n + j]);
                    c[j] = f * c[j] + i * candidate;
                    let o = self.act(0, gates[n + j] + peep(1, j) * c[j]);
                    tmp[j] = o * activate(self.acts[2], c[j]);
                }
                h.copy_from_slice(tmp);
            }
        }
    }
}

#[cfg(test)]
mod weights_tests {
    use super::{transpose_into, Weights};

    #[test]
    fn rows_and_transposed_weights_give_the_same_products() {
        let (rows, width) = (37, 21); // neither a multiple of the blocks nor of the lanes
        let w: Vec<f32> = (0..rows * width)
            .map(|i| ((i * 7919) % 113) as f32 / 50.0 - 1.0)
            .collect();
        let v: Vec<f32> = (0..width).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut t = vec![0.0; rows * width];
        transpose_into(&w, rows, width, &mut t);
        for (first, len) in [(0, rows), (5, 20)] {
            let (mut a, mut b) = (vec![0.5; len], vec![0.5; len]);
            Weights::Rows(&w).accumulate(&mut a, &v, rows, first);
            Weights::Transposed(&t).accumulate(&mut b, &v, rows, first);
            for (c, (x, y)) in a.iter().zip(&b).enumerate() {
                let direct: f32 = 0.5
                    + (0..width)
                        .map(|j| w[(first + c) * width + j] * v[j])
                        .sum::<f32>();
                assert!(
                    (x - y).abs() < 1e-5 && (x - direct).abs() < 1e-5,
                    "{x} {y} {direct}"
                );
            }
        }
    }
}
