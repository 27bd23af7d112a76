//! Exponential moving average of one module into another of the same
//! structure: `θ_t ← d·θ_t + (1 − d)·θ_s` for every float parameter, matched
//! by visit order (both modules come from the same constructor). The teacher
//! keeps its own `ParamId`s; student values are taken without autodiff, so no
//! graph links the teacher to the student and no gradient reaches it.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().inner().flatten::<1>(0, D - 1));
    }
}

struct Blend {
    src: std::vec::IntoIter<Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let s = self
            .src
            .next()
            .expect("teacher and student have the same parameters");
        let decay = self.decay;
        param.map(|t| {
            let s = s.reshape(t.shape());
            t.inner().mul_scalar(decay) + s.mul_scalar(1.0 - decay)
        })
    }
}

/// Returns `teacher` moved towards `student` by `1 − decay`.
///
/// # Panics
/// If the two modules do not have the same parameters in the same order.
pub fn ema_update<M: Module>(teacher: M, student: &M, decay: f64) -> M {
    let mut collect = Collect(Vec::new());
    student.visit(&mut collect);
    let n = collect.0.len();
    let mut blend = Blend {
        src: collect.0.into_iter(),
        decay,
    };
    let out = teacher.map(&mut blend);
    assert!(
        blend.src.next().is_none(),
        "student has more parameters than the teacher ({n})"
    );
    out
}

/// Copies every float parameter of `src` into `dst` (keeping `dst`'s ids).
pub fn copy_into<M: Module>(dst: M, src: &M) -> M {
    ema_update(dst, src, 0.0)
}
