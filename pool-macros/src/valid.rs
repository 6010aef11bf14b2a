//! Validation: checks a typed view against the signatures its attribute
//! accepts and returns what code generation needs. Every error is spanned on
//! the user's token and ends with the whole expected signature.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::{GenericArgument, Ident, PathArguments, ReturnType, Type};

use crate::ast::{foreign_path, ungroup, Attr, HookFn, Output, Param, StateItem};

/// Collects independent errors, so one compile shows them all (serde's
/// `Ctxt`).
struct Errors {
    attr: Attr,
    error: Option<syn::Error>,
}

impl Errors {
    fn new(attr: Attr) -> Self {
        Errors { attr, error: None }
    }

    /// Records `problem` at `span`, followed by the attribute's expected
    /// signature.
    fn push(&mut self, span: Span, problem: impl std::fmt::Display) {
        let message = format!("{problem}; expected {}", self.attr.expected());
        self.add(syn::Error::new(span, message));
    }

    /// Records `problem` spanning all of `tokens` (a type, a parameter).
    fn push_tokens(&mut self, tokens: &dyn ToTokens, problem: impl std::fmt::Display) {
        let message = format!("{problem}; expected {}", self.attr.expected());
        self.add(syn::Error::new_spanned(tokens, message));
    }

    fn add(&mut self, error: syn::Error) {
        match &mut self.error {
            Some(first) => first.combine(error),
            None => self.error = Some(error),
        }
    }

    /// Fails with what was pushed so far, when going on would only report
    /// follow-on errors.
    fn bail<T>(self) -> syn::Result<T> {
        Err(self.error.expect("an error was pushed before bailing"))
    }

    fn finish(self) -> syn::Result<()> {
        self.error.map_or(Ok(()), Err)
    }
}

/// Rejects arguments on the function attributes, which take none.
pub(crate) fn no_args(attr: Attr, args: &TokenStream) -> syn::Result<()> {
    match args.clone().into_iter().next() {
        None => Ok(()),
        Some(_) => {
            let mut errors = Errors::new(attr);
            errors.push_tokens(args, format!("`{}` takes no arguments", attr.name()));
            errors.finish()
        }
    }
}

impl StateItem<'_> {
    /// A state must be concrete: the autoref probes in the generated
    /// `WorkerState` impl only resolve for concrete types.
    pub(crate) fn validate(&self) -> syn::Result<()> {
        let generics = self.generics;
        if generics.params.is_empty() && generics.where_clause.is_none() {
            return Ok(());
        }
        let spot: &dyn ToTokens = match (generics.params.is_empty(), &generics.where_clause) {
            (true, Some(where_clause)) => where_clause,
            _ => generics,
        };
        let mut errors = Errors::new(Attr::WorkerState);
        errors.push_tokens(
            spot,
            format!(
                "`#[worker_state]` cannot be used on a generic type: `{}` must be concrete (pick concrete field types, or implement `WorkerState` by hand for each instance)",
                self.ident
            ),
        );
        errors.finish()
    }
}

/// How the state reaches the hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pass {
    /// `&mut State`.
    Mut,
    /// `&State`.
    Shared,
    /// `State`.
    Value,
}

/// A valid `#[task]`.
pub(crate) struct TaskPlan<'a> {
    pub(crate) func: &'a Ident,
    pub(crate) state: &'a Type,
    pub(crate) inputs: Vec<&'a Type>,
    /// The written context type (`WorkerContext<T>`), when the task takes
    /// one, last.
    pub(crate) ctx: Option<&'a Type>,
    pub(crate) output: &'a Output<'a>,
}

/// A valid `#[worker_init]`.
pub(crate) struct InitPlan<'a> {
    pub(crate) func: &'a Ident,
    pub(crate) state: &'a Type,
    /// `fn(&mut State ..)`: the state starts from `Default` and the hook fills
    /// it in; otherwise the hook returns it.
    pub(crate) fills: bool,
    /// The written context type, when the hook takes one.
    pub(crate) ctx: Option<&'a Type>,
    /// The written return type, when it is a `Result`.
    pub(crate) fallible: Option<&'a Type>,
}

/// A valid `#[worker_exit]`.
pub(crate) struct ExitPlan<'a> {
    pub(crate) func: &'a Ident,
    pub(crate) state: &'a Type,
    pub(crate) pass: Pass,
    /// The written context type, when the hook takes one.
    pub(crate) ctx: Option<&'a Type>,
    pub(crate) output: &'a Output<'a>,
}

impl<'a> HookFn<'a> {
    /// The rules every function attribute shares: a plain, non-generic,
    /// free function.
    fn validate_common(&self, errors: &mut Errors) {
        let attr = errors.attr.name();
        let sig = &self.original.sig;
        if let Some(token) = &sig.constness {
            errors.push(token.span, format!("`{attr}` cannot be on a `const fn`"));
        }
        if let Some(token) = &sig.asyncness {
            errors.push(
                token.span,
                format!("`{attr}` cannot be on an `async fn`: workers call it synchronously"),
            );
        }
        // A variadic function must be `unsafe extern`: one mistake, one error.
        let variadic = sig.variadic.is_some();
        if let Some(token) = sig.unsafety.as_ref().filter(|_| !variadic) {
            errors.push(
                token.span,
                format!("`{attr}` cannot be on an `unsafe fn`: workers call it as a safe function"),
            );
        }
        if let Some(abi) = sig.abi.as_ref().filter(|_| !variadic) {
            errors.push_tokens(abi, format!("`{attr}` cannot be on an `extern` function"));
        }
        // Lifetime parameters alone name borrows, which the inputs may have.
        let only_lifetimes = sig
            .generics
            .params
            .iter()
            .all(|param| matches!(param, syn::GenericParam::Lifetime(_)));
        if !only_lifetimes {
            errors.push_tokens(
                &sig.generics,
                format!("`{attr}` cannot be on a generic function: the state and every type in the signature must be concrete"),
            );
        } else if let Some(where_clause) = &sig.generics.where_clause {
            errors.push_tokens(
                where_clause,
                format!("`{attr}` cannot be on a function with a `where` clause: every type in the signature must be concrete"),
            );
        }
        if let Some(variadic) = &sig.variadic {
            errors.push_tokens(
                variadic,
                format!("`{attr}` cannot be on a variadic function"),
            );
        }
        for param in &self.params {
            match param {
                Param::Receiver(receiver) => errors.push_tokens(
                    receiver,
                    format!("`{attr}` goes on a free function, not a method: take the state as a parameter"),
                ),
                _ => {
                    if let Some(ty) = param.ty() {
                        reject_impl_trait(ty, errors);
                    }
                    reject_context_not_by_ref(param, errors);
                }
            }
        }
        if let ReturnType::Type(_, ty) = &sig.output {
            reject_impl_trait(ty, errors);
        }
    }

    /// Checks a `#[task]`.
    pub(crate) fn validate_task(&'a self) -> syn::Result<TaskPlan<'a>> {
        let mut errors = Errors::new(Attr::Task);
        self.validate_common(&mut errors);
        let state = match self.params.first() {
            None => {
                errors.push(
                    self.parens_span(),
                    "`#[task]` needs the state as its first parameter, then the inputs",
                );
                None
            }
            Some(Param::MutRef(_, state) | Param::SharedRef(_, state)) => {
                check_state_type(state, &mut errors);
                Some(*state)
            }
            // `fn(x: In)`: the state is missing, or taken by value with no
            // input; the same signature fixes either.
            Some(Param::Value(_)) if self.params.len() == 1 => {
                errors.push_tokens(
                    &self.original.sig.inputs,
                    "`#[task]` needs the state by reference as its first parameter, then the inputs: add `state: &mut State` (or `&State`) in front",
                );
                None
            }
            Some(Param::Value(pat_type)) => {
                errors.push_tokens(
                    &pat_type.ty,
                    "`#[task]` takes the state by reference, as `&mut State` or `&State`, not by value",
                );
                None
            }
            Some(Param::Receiver(_)) => None,
        };
        // The context: at most one, last.
        let rest = self.params.get(1..).unwrap_or_default();
        let contexts: Vec<usize> = (0..rest.len())
            .filter(|&i| context_type(&rest[i]).is_some())
            .collect();
        if let Some(&second) = contexts.get(1) {
            errors.push_tokens(
                &rest[second],
                "a `#[task]` takes one `&WorkerContext`, as its last parameter",
            );
        } else if let Some(&at) = contexts.first().filter(|&&at| at + 1 != rest.len()) {
            errors.push_tokens(
                &rest[at],
                "the `&WorkerContext` of a `#[task]` goes last, after its inputs",
            );
        }
        let ctx = contexts.first().and_then(|&at| context_type(&rest[at]));
        let inputs: Vec<&Type> = rest
            .iter()
            .filter(|param| context_type(param).is_none() && !misses_context_ref(param))
            .filter_map(Param::ty)
            .collect();
        if inputs.is_empty() && !matches!(self.params.first(), None | Some(Param::Value(_))) {
            errors.push_tokens(
                &self.original.sig.inputs,
                "`#[task]` needs at least one input after the state",
            );
        }
        match &self.output {
            Output::Unit => {}
            Output::Plain(ty) | Output::Fallible { ty, .. } => {
                check_owned(ty, "output", &mut errors)
            }
        }
        errors.finish()?;
        Ok(TaskPlan {
            func: self.ident(),
            state: state.expect("no error means a state parameter"),
            inputs,
            ctx,
            output: &self.output,
        })
    }

    /// Checks a `#[worker_init]`.
    pub(crate) fn validate_init(&'a self) -> syn::Result<InitPlan<'a>> {
        let mut errors = Errors::new(Attr::WorkerInit);
        self.validate_common(&mut errors);
        let (fills, ctx) = match self.params.as_slice() {
            [] => (None, None),
            [param @ Param::SharedRef(..)] if context_type(param).is_some() => {
                (None, context_type(param))
            }
            [Param::MutRef(_, state)] => (Some(*state), None),
            [Param::MutRef(_, state), param @ Param::SharedRef(..)]
                if context_type(param).is_some() =>
            {
                (Some(*state), context_type(param))
            }
            [param @ Param::SharedRef(..)] => {
                errors.push_tokens(
                    param,
                    "a `#[worker_init]` returning the state takes no parameter or `&WorkerContext<T>`; the shared object it may need comes through the context: `ctx.shared()`",
                );
                return errors.bail();
            }
            // Reported by `validate_common`.
            [Param::Receiver(_), ..] => return errors.bail(),
            // Reported by `validate_common`.
            [first, ..] if misses_context_ref(first) => return errors.bail(),
            [Param::MutRef(..), second, ..] if misses_context_ref(second) => return errors.bail(),
            [Param::Value(pat_type), ..] => {
                errors.push_tokens(
                    &pat_type.ty,
                    "`#[worker_init]` takes the state as `&mut State`, or returns it; it cannot take it by value",
                );
                return errors.bail();
            }
            [_, _, extra, ..] => {
                errors.push_tokens(extra, "`#[worker_init]` takes at most two parameters");
                return errors.bail();
            }
            [Param::MutRef(..), second] => {
                errors.push_tokens(
                    second,
                    "the second parameter of a `#[worker_init]` taking `&mut State` must be `&WorkerContext<T>`",
                );
                return errors.bail();
            }
            [Param::SharedRef(..), second] => {
                errors.push_tokens(
                    second,
                    "a `#[worker_init]` returning the state takes at most one parameter, `&WorkerContext`",
                );
                return errors.bail();
            }
        };
        let (state, fallible) = match (fills, &self.output) {
            (Some(state), Output::Unit) => {
                check_state_type(state, &mut errors);
                (Some(state), None)
            }
            (Some(state), Output::Fallible { ok, ty }) => {
                check_state_type(state, &mut errors);
                if let Some(ok) = ok.filter(|ok| !is_unit(ok)) {
                    errors.push_tokens(
                        ok,
                        "a `#[worker_init]` taking `&mut State` fills it in and returns nothing, or `Result<(), E>`",
                    );
                }
                (Some(state), Some(*ty))
            }
            (Some(_), Output::Plain(ty)) => {
                errors.push_tokens(
                    ty,
                    "a `#[worker_init]` taking `&mut State` fills it in and returns nothing, or `Result<(), E>`",
                );
                (None, None)
            }
            (None, Output::Unit) => {
                errors.push(
                    self.ident().span(),
                    "a `#[worker_init]` without a `&mut State` parameter must return the state",
                );
                (None, None)
            }
            (None, Output::Plain(ty)) => {
                check_returned_state(ty, &mut errors);
                (Some(*ty), None)
            }
            (
                None,
                Output::Fallible {
                    ok: Some(state),
                    ty,
                },
            ) => {
                check_returned_state(state, &mut errors);
                (Some(*state), Some(*ty))
            }
            (None, Output::Fallible { ty, ok: None }) => {
                errors.push_tokens(
                    ty,
                    "name the state in the return type of a `#[worker_init]`: `Result<State, E>`",
                );
                (None, None)
            }
        };
        errors.finish()?;
        Ok(InitPlan {
            func: self.ident(),
            state: state.expect("no error means a state"),
            fills: fills.is_some(),
            ctx,
            fallible,
        })
    }

    /// Checks a `#[worker_exit]`.
    pub(crate) fn validate_exit(&'a self) -> syn::Result<ExitPlan<'a>> {
        let mut errors = Errors::new(Attr::WorkerExit);
        self.validate_common(&mut errors);
        let state = match self.params.first() {
            None => {
                errors.push(
                    self.parens_span(),
                    "`#[worker_exit]` needs the state as its first parameter",
                );
                None
            }
            Some(Param::MutRef(_, state)) => Some((*state, Pass::Mut)),
            Some(Param::SharedRef(_, state)) => Some((*state, Pass::Shared)),
            Some(Param::Value(pat_type)) => Some((&*pat_type.ty, Pass::Value)),
            Some(Param::Receiver(_)) => None,
        };
        if let Some((state, _)) = state {
            check_state_type(state, &mut errors);
        }
        let ctx = match self.params.get(1) {
            None | Some(Param::Receiver(_)) => None,
            Some(second) => {
                let ctx = context_type(second);
                if ctx.is_none() && !misses_context_ref(second) {
                    errors.push_tokens(
                        second,
                        "the second parameter of a `#[worker_exit]` must be `&WorkerContext<T>`",
                    );
                }
                ctx
            }
        };
        if let Some(extra) = self.params.get(2) {
            errors.push_tokens(extra, "`#[worker_exit]` takes at most two parameters");
        }
        match &self.output {
            Output::Unit => {}
            Output::Plain(ty) | Output::Fallible { ty, .. } => {
                check_owned(ty, "output", &mut errors)
            }
        }
        errors.finish()?;
        let (state, pass) = state.expect("no error means a state parameter");
        Ok(ExitPlan {
            func: self.ident(),
            state,
            pass,
            ctx,
            output: &self.output,
        })
    }
}

/// A state is named by a path (`Counter`, `crate::model::Model`) to a type
/// of this crate. Primitive and `std` types are rejected here, since the
/// impl on them would add rustc's orphan-rule error (E0117) to this one; a
/// foreign type under another name (`use std::time::Duration`) is left to
/// the compiler's "is not a worker state".
fn check_state_type(ty: &Type, errors: &mut Errors) {
    let attr = errors.attr.name();
    match ungroup(ty) {
        Type::Path(path) if path.qself.is_none() => {
            if let Some(origin) = foreign_path(&path.path) {
                let origin = match origin {
                    "primitive" => "is a primitive type".to_owned(),
                    krate => format!("is defined in `{krate}`"),
                };
                let name = path.path.to_token_stream().to_string().replace(' ', "");
                errors.push_tokens(
                    ty,
                    format!("`{name}` {origin} and cannot be a worker state: the state of a `{attr}` must be a struct or enum with `#[worker_state]` (wrap the `{name}` in one)"),
                );
            }
        }
        _ => errors.push_tokens(
            ty,
            format!("the state of a `{attr}` must be a struct or enum with `#[worker_state]`"),
        ),
    }
}

/// Whether a written type can be named in an impl outside its function,
/// for the fallback impls of an invalid hook: it names no generic
/// parameter of the function, no `impl Trait` and no borrow but `'static`
/// ones, the types the checks above reject.
pub(crate) fn nameable_outside(ty: &Type, generics: &syn::Generics) -> bool {
    let mut errors = Errors::new(Attr::Task);
    reject_impl_trait(ty, &mut errors);
    check_owned(ty, "input", &mut errors);
    let mut generic = false;
    visit_types(ty, &mut |ty| {
        if let Type::Path(path) = ty {
            let first = path.path.segments.first().map(|segment| &segment.ident);
            generic |= path.qself.is_none()
                && path.path.leading_colon.is_none()
                && generics
                    .type_params()
                    .any(|param| Some(&param.ident) == first);
        }
    });
    errors.finish().is_ok() && !generic
}

/// The type a `#[worker_init]` returns: the state itself, by value.
fn check_returned_state(ty: &Type, errors: &mut Errors) {
    if let Type::Reference(reference) = ungroup(ty) {
        errors.push(
            reference.and_token.span,
            "a `#[worker_init]` returns the state by value, not a reference",
        );
    } else {
        check_state_type(ty, errors);
    }
}

fn is_unit(ty: &Type) -> bool {
    matches!(ungroup(ty), Type::Tuple(tuple) if tuple.elems.is_empty())
}

/// `impl Trait` makes a function generic (or its output opaque), and a
/// trait impl needs every type named.
fn reject_impl_trait(ty: &Type, errors: &mut Errors) {
    let mut found = None;
    visit_types(ty, &mut |ty| {
        if let Type::ImplTrait(impl_trait) = ty {
            found.get_or_insert(impl_trait.impl_token.span);
        }
    });
    if let Some(span) = found {
        let attr = errors.attr.name();
        errors.push(
            span,
            format!("`{attr}` cannot take or return `impl Trait`: every type in the signature must be concrete"),
        );
    }
}

/// The written type of a context parameter, `&WorkerContext<T>`: a shared
/// reference to a path whose last segment is `WorkerContext`.
pub(crate) fn context_type<'a>(param: &Param<'a>) -> Option<&'a Type> {
    let Param::SharedRef(_, ty) = param else {
        return None;
    };
    match ungroup(ty) {
        Type::Path(path)
            if path.qself.is_none()
                && path
                    .path
                    .segments
                    .last()
                    .is_some_and(|last| last.ident == "WorkerContext") =>
        {
            Some(*ty)
        }
        _ => None,
    }
}

/// A `WorkerContext` taken otherwise than by shared reference (by value,
/// `&mut`) would be taken for an input or a state: say how to take it.
fn reject_context_not_by_ref(param: &Param<'_>, errors: &mut Errors) {
    if misses_context_ref(param) {
        let attr = errors.attr.name();
        errors.push_tokens(
            param,
            format!("a `{attr}` takes its context by shared reference: write `&WorkerContext<T>` (`&WorkerContext` where the state has no shared object)"),
        );
    }
}

/// Whether `param` is a `WorkerContext` taken by value or by `&mut`.
pub(crate) fn misses_context_ref(param: &Param<'_>) -> bool {
    let ty = match param {
        Param::Value(pat_type) => &*pat_type.ty,
        Param::MutRef(_, ty) => ty,
        Param::SharedRef(..) | Param::Receiver(_) => return false,
    };
    match ungroup(ty) {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|last| last.ident == "WorkerContext"),
        _ => false,
    }
}

/// Whether a type borrows: a reference or a lifetime other than `'static`.
pub(crate) fn borrows(ty: &Type) -> bool {
    borrowed_span(ty).is_some()
}

/// Hook outputs travel between threads: no borrows but `'static` ones.
fn check_owned(ty: &Type, what: &str, errors: &mut Errors) {
    if let Some(span) = borrowed_span(ty) {
        let attr = errors.attr.name();
        errors.push(
            span,
            format!("a `{attr}` {what} crosses threads and cannot borrow: use an owned (`'static`) type"),
        );
    }
}

/// Where a type first borrows, if it does.
fn borrowed_span(ty: &Type) -> Option<Span> {
    let mut borrowed = None;
    visit_types(ty, &mut |ty| match ty {
        Type::Reference(reference)
            if reference
                .lifetime
                .as_ref()
                .is_none_or(|l| l.ident != "static") =>
        {
            borrowed.get_or_insert(reference.and_token.span);
        }
        Type::Path(path) => {
            for segment in &path.path.segments {
                if let PathArguments::AngleBracketed(args) = &segment.arguments {
                    for arg in &args.args {
                        if let GenericArgument::Lifetime(lifetime) = arg {
                            if lifetime.ident != "static" {
                                borrowed.get_or_insert(lifetime.span());
                            }
                        }
                    }
                }
            }
        }
        _ => {}
    });
    borrowed
}

/// Calls `f` on `ty` and every type nested in it.
fn visit_types(ty: &Type, f: &mut dyn FnMut(&Type)) {
    f(ty);
    match ty {
        Type::Array(array) => visit_types(&array.elem, f),
        Type::Group(group) => visit_types(&group.elem, f),
        Type::Paren(paren) => visit_types(&paren.elem, f),
        Type::Ptr(ptr) => visit_types(&ptr.elem, f),
        Type::Reference(reference) => visit_types(&reference.elem, f),
        Type::Slice(slice) => visit_types(&slice.elem, f),
        Type::Tuple(tuple) => tuple.elems.iter().for_each(|elem| visit_types(elem, f)),
        Type::Path(path) => {
            if let Some(qself) = &path.qself {
                visit_types(&qself.ty, f);
            }
            for segment in &path.path.segments {
                if let PathArguments::AngleBracketed(args) = &segment.arguments {
                    for arg in &args.args {
                        if let GenericArgument::Type(ty) = arg {
                            visit_types(ty, f);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::{parse_quote, ItemFn};

    fn task_error(item: ItemFn) -> String {
        match HookFn::from_syn(&item).validate_task() {
            Ok(_) => panic!("accepted"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn task_signatures() {
        let item: ItemFn = parse_quote! { fn f(s: &mut S, a: u32, b: String) -> Result<u8, E> {} };
        let hook = HookFn::from_syn(&item);
        let plan = hook.validate_task().unwrap();
        assert_eq!(plan.inputs.len(), 2);
        let item: ItemFn = parse_quote! { fn f(s: &S, a: &'static str) {} };
        assert!(HookFn::from_syn(&item).validate_task().is_ok());

        let err = task_error(parse_quote! { fn f(s: S, a: u32) {} });
        assert!(
            err.starts_with("`#[task]` takes the state by reference"),
            "{err}"
        );
        assert!(
            err.contains("expected `fn(&mut State, In, ..) -> Out`"),
            "{err}"
        );
        let err = task_error(parse_quote! { fn f() {} });
        assert!(err.contains("needs the state"), "{err}");
        // Only an input: one error, naming the missing state.
        let item: ItemFn = parse_quote! { fn f(x: u32) -> u32 {} };
        let err = HookFn::from_syn(&item).validate_task().err().unwrap();
        assert_eq!(err.clone().into_iter().count(), 1, "{err}");
        assert!(
            err.to_string()
                .contains("needs the state by reference as its first parameter"),
            "{err}"
        );
        let err = task_error(parse_quote! { fn f(s: &mut u32, x: u32) {} });
        assert!(err.starts_with("`u32` is a primitive type"), "{err}");
        let err = task_error(parse_quote! { fn f(s: &std::time::Duration, x: u32) {} });
        assert!(
            err.starts_with("`std::time::Duration` is defined in `std`"),
            "{err}"
        );
        let err = task_error(parse_quote! { fn f(s: &mut S) {} });
        assert!(err.contains("at least one input"), "{err}");
        // Inputs may borrow; outputs may not.
        for item in [
            parse_quote! { fn f(s: &mut S, x: &str) {} },
            parse_quote! { fn f(s: &mut S, x: Cow<'_, str>, y: &[u8]) {} },
        ] {
            let item: ItemFn = item;
            assert!(HookFn::from_syn(&item).validate_task().is_ok());
        }
        let err = task_error(parse_quote! { fn f(s: &mut S, x: u8) -> &str {} });
        assert!(
            err.contains("output crosses threads and cannot borrow"),
            "{err}"
        );
        // One context, last.
        let item: ItemFn = parse_quote! { fn f(s: &mut S, x: u8, c: &WorkerContext<C>) {} };
        let hook = HookFn::from_syn(&item);
        let plan = hook.validate_task().unwrap();
        assert_eq!((plan.inputs.len(), plan.ctx.is_some()), (1, true));
        let err = task_error(parse_quote! { fn f(s: &mut S, c: &WorkerContext, x: u8) {} });
        assert!(
            err.starts_with("the `&WorkerContext` of a `#[task]` goes last"),
            "{err}"
        );
        let err = task_error(
            parse_quote! { fn f(s: &mut S, x: u8, c: &WorkerContext, d: &WorkerContext) {} },
        );
        assert!(
            err.starts_with("a `#[task]` takes one `&WorkerContext`"),
            "{err}"
        );
        let err = task_error(parse_quote! { fn f(s: &mut S, c: &WorkerContext) {} });
        assert!(err.contains("at least one input"), "{err}");
        let err = task_error(parse_quote! { async fn f(s: &mut S, x: u8) {} });
        assert!(err.contains("`async fn`"), "{err}");
        let err = task_error(parse_quote! { fn f<T>(s: &mut S, x: T) {} });
        assert!(err.contains("generic function"), "{err}");
        let err = task_error(parse_quote! { fn f(s: &mut S, x: impl Copy) {} });
        assert!(err.contains("`impl Trait`"), "{err}");
        let err = task_error(parse_quote! { fn f(&mut self, x: u8) {} });
        assert!(err.contains("not a method"), "{err}");
    }

    #[test]
    fn types_a_fallback_impl_can_name() {
        let item: ItemFn = parse_quote! { fn f<T>(s: &S) {} };
        let generics = &item.sig.generics;
        for (ty, nameable) in [
            (parse_quote! { u32 }, true),
            (parse_quote! { &'static str }, true),
            (parse_quote! { Vec<(String, u8)> }, true),
            (parse_quote! { &str }, false),
            (parse_quote! { Cow<'a, str> }, false),
            (parse_quote! { impl Copy }, false),
            (parse_quote! { Vec<T> }, false),
            (parse_quote! { T::Item }, false),
        ] {
            let ty: Type = ty;
            assert_eq!(
                nameable_outside(&ty, generics),
                nameable,
                "{}",
                ty.to_token_stream()
            );
        }
    }

    #[test]
    fn independent_errors_are_all_reported() {
        let item: ItemFn = parse_quote! { const unsafe fn f(s: S, x: u8) {} };
        let err = HookFn::from_syn(&item).validate_task().err().unwrap();
        assert_eq!(err.into_iter().count(), 3);
    }

    #[test]
    fn init_signatures() {
        for (item, fills, ctx, fallible) in [
            (parse_quote! { fn f() -> S {} }, false, false, false),
            (
                parse_quote! { fn f(c: &WorkerContext) -> S {} },
                false,
                true,
                false,
            ),
            (
                parse_quote! { fn f(c: &WorkerContext) -> io::Result<S> {} },
                false,
                true,
                true,
            ),
            (parse_quote! { fn f(s: &mut S) {} }, true, false, false),
            (
                parse_quote! { fn f(s: &mut S, c: &WorkerContext) -> Result<(), E> {} },
                true,
                true,
                true,
            ),
        ] {
            let item: ItemFn = item;
            let hook = HookFn::from_syn(&item);
            let plan = hook.validate_init().unwrap();
            assert_eq!(
                (plan.fills, plan.ctx.is_some(), plan.fallible.is_some()),
                (fills, ctx, fallible)
            );
        }
        for (item, message) in [
            (parse_quote! { fn f() {} }, "must return the state"),
            (parse_quote! { fn f(s: S) {} }, "cannot take it by value"),
            (
                parse_quote! { fn f(s: &mut S) -> u32 {} },
                "returns nothing",
            ),
            (parse_quote! { fn f() -> &'static S {} }, "not a reference"),
            (
                parse_quote! { fn f(s: &mut S, n: u32) {} },
                "must be `&WorkerContext<T>`",
            ),
            (
                parse_quote! { fn f(c: &WorkerContext, n: u32) -> S {} },
                "at most one parameter",
            ),
        ] {
            let item: ItemFn = item;
            let err = HookFn::from_syn(&item)
                .validate_init()
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains(message), "{err}");
        }
    }

    #[test]
    fn exit_signatures() {
        for (item, pass, ctx) in [
            (parse_quote! { fn f(s: &mut S) -> u64 {} }, Pass::Mut, false),
            (
                parse_quote! { fn f(s: S, c: &WorkerContext) {} },
                Pass::Value,
                true,
            ),
            (
                parse_quote! { fn f(s: &S) -> Result<u8, E> {} },
                Pass::Shared,
                false,
            ),
        ] {
            let item: ItemFn = item;
            let hook = HookFn::from_syn(&item);
            let plan = hook.validate_exit().unwrap();
            assert_eq!((plan.pass, plan.ctx.is_some()), (pass, ctx));
        }
        let item: ItemFn = parse_quote! { fn f() -> u64 {} };
        let err = HookFn::from_syn(&item)
            .validate_exit()
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("needs the state"), "{err}");
    }
}
