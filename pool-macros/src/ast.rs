//! Typed views of what the attributes are put on. They borrow the syntax, so
//! validation can point every error at the token the user wrote, and they
//! reject nothing: that is `valid.rs`'s job.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::Parser;
use syn::{FnArg, GenericArgument, Ident, ItemFn, PathArguments, ReturnType, Type};

/// The four attributes, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Attr {
    WorkerState,
    WorkerInit,
    Task,
    WorkerExit,
}

impl Attr {
    /// How the user writes it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Attr::WorkerState => "#[worker_state]",
            Attr::WorkerInit => "#[worker_init]",
            Attr::Task => "#[task]",
            Attr::WorkerExit => "#[worker_exit]",
        }
    }

    /// Every signature it accepts, for messages.
    pub(crate) fn expected(self) -> &'static str {
        match self {
            Attr::WorkerState => "`#[worker_state]`, `#[worker_state(pool = Name)]`, `#[worker_state(shared = Type)]` or both, on a non-generic `struct` or `enum`",
            Attr::WorkerInit => "`fn() -> State`, `fn(&WorkerContext<T>) -> State`, `fn(&mut State)` or `fn(&mut State, &WorkerContext<T>)`, returning `Result<.., E>` to fail (`T` is the state's shared type, left out when it has none)",
            Attr::Task => "`fn(&mut State, In, ..) -> Out` or `fn(&State, In, ..) -> Out`, optionally with a last parameter `&WorkerContext<T>`, returning `Result<Out, E>` to fail",
            Attr::WorkerExit => "`fn(&mut State) -> T` or `fn(State) -> T`, optionally with a second parameter `&WorkerContext<T>`, returning `Result<T, E>` to fail",
        }
    }
}

/// The item under `#[worker_state]`: a struct or an enum.
pub(crate) struct StateItem<'a> {
    pub(crate) original: &'a syn::Item,
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a syn::Visibility,
    pub(crate) generics: &'a syn::Generics,
}

impl<'a> StateItem<'a> {
    /// The view of a struct or enum; `None` for any other item.
    pub(crate) fn from_syn(item: &'a syn::Item) -> Option<Self> {
        let (ident, vis, generics) = match item {
            syn::Item::Struct(s) => (&s.ident, &s.vis, &s.generics),
            syn::Item::Enum(e) => (&e.ident, &e.vis, &e.generics),
            _ => return None,
        };
        Some(StateItem {
            original: item,
            ident,
            vis,
            generics,
        })
    }
}

/// The arguments of `#[worker_state(..)]`.
#[derive(Default)]
pub(crate) struct StateArgs {
    /// `pool = Name`.
    pub(crate) pool: Option<Ident>,
    /// `shared = Type`.
    pub(crate) shared: Option<Type>,
    /// `shared = ..` given something that is not a type: the state's
    /// shared type is then the error itself (see `Unnamed`), so the mistake
    /// reads once.
    pub(crate) bad_shared: Option<syn::Error>,
}

impl StateArgs {
    /// Parses `pool = Name` and `shared = Type`; an unknown argument is an
    /// error naming the valid ones.
    pub(crate) fn parse(args: TokenStream) -> syn::Result<Self> {
        let mut parsed = StateArgs::default();
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("shared") {
                let value = meta.value()?;
                if parsed.shared.is_some() || parsed.bad_shared.is_some() {
                    return Err(
                        meta.error("`shared` is given twice: `#[worker_state(shared = Type)]`")
                    );
                }
                let ahead = value.fork();
                let is_type = ahead.parse::<Type>().is_ok()
                    && (ahead.is_empty() || ahead.peek(syn::Token![,]));
                if is_type {
                    parsed.shared = Some(value.parse()?);
                } else {
                    // Not a type: take the expression it is, to go on with
                    // the other arguments.
                    let expr: syn::Expr = value.parse()?;
                    parsed.bad_shared = Some(syn::Error::new_spanned(
                        expr,
                        "expected a type: `#[worker_state(shared = Config)]` names the type of the pool's shared object, whose value `with_shared(n, value)` takes",
                    ));
                }
                Ok(())
            } else if meta.path.is_ident("pool") {
                let value = meta.value()?;
                let name: Ident = value.parse().map_err(|err| {
                    syn::Error::new(
                        err.span(),
                        "expected a type name: `#[worker_state(pool = Name)]`",
                    )
                })?;
                if parsed.pool.is_some() {
                    return Err(meta.error("`pool` is given twice: `#[worker_state(pool = Name)]`"));
                }
                parsed.pool = Some(name);
                Ok(())
            } else {
                let name = meta
                    .path
                    .get_ident()
                    .map_or_else(|| "this".to_owned(), |ident| format!("`{ident}`"));
                Err(meta.error(format!(
                    "unknown argument {name} of `#[worker_state]`; the valid arguments are `pool = Name` and `shared = Type`"
                )))
            }
        });
        parser.parse2(args)?;
        Ok(parsed)
    }
}

/// A function under `#[worker_init]`, `#[task]` or `#[worker_exit]`.
pub(crate) struct HookFn<'a> {
    pub(crate) original: &'a ItemFn,
    pub(crate) params: Vec<Param<'a>>,
    pub(crate) output: Output<'a>,
}

/// One parameter, by how it is passed.
pub(crate) enum Param<'a> {
    /// `self`, `&self`, `&mut self`: the function is a method.
    Receiver(&'a syn::Receiver),
    /// `name: &mut T`, with `T`.
    MutRef(&'a syn::PatType, &'a Type),
    /// `name: &T`, with `T`.
    SharedRef(&'a syn::PatType, &'a Type),
    /// `name: T`.
    Value(&'a syn::PatType),
}

impl<'a> Param<'a> {
    fn from_syn(arg: &'a FnArg) -> Self {
        match arg {
            FnArg::Receiver(receiver) => Param::Receiver(receiver),
            FnArg::Typed(pat_type) => match ungroup(&pat_type.ty) {
                Type::Reference(reference) if reference.mutability.is_some() => {
                    Param::MutRef(pat_type, &reference.elem)
                }
                Type::Reference(reference) => Param::SharedRef(pat_type, &reference.elem),
                _ => Param::Value(pat_type),
            },
        }
    }

    /// The written type (`&mut T` for `MutRef`).
    pub(crate) fn ty(&self) -> Option<&'a Type> {
        match self {
            Param::Receiver(_) => None,
            Param::MutRef(pat_type, _) | Param::SharedRef(pat_type, _) | Param::Value(pat_type) => {
                Some(&pat_type.ty)
            }
        }
    }
}

/// Errors about a parameter point at its type (or at `self`).
impl ToTokens for Param<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Param::Receiver(receiver) => receiver.to_tokens(tokens),
            Param::MutRef(pat_type, _) | Param::SharedRef(pat_type, _) | Param::Value(pat_type) => {
                pat_type.ty.to_tokens(tokens);
            }
        }
    }
}

/// The written return type.
pub(crate) enum Output<'a> {
    /// No `->`, or `-> ()`.
    Unit,
    /// `-> T` where `T` is not a `Result`.
    Plain(&'a Type),
    /// `-> ..Result<T, E>`, `-> ..Result<T>` or `-> ..Result`: any path whose
    /// last segment is `Result`. `ok` is its first type argument, if written.
    Fallible { ty: &'a Type, ok: Option<&'a Type> },
}

impl<'a> Output<'a> {
    fn from_syn(output: &'a ReturnType) -> Self {
        let ty = match output {
            ReturnType::Default => return Output::Unit,
            ReturnType::Type(_, ty) => &**ty,
        };
        match ungroup(ty) {
            Type::Tuple(tuple) if tuple.elems.is_empty() => Output::Unit,
            Type::Path(path) if path.qself.is_none() => {
                let last = path.path.segments.last();
                match last {
                    Some(segment) if segment.ident == "Result" => {
                        let ok = match &segment.arguments {
                            PathArguments::AngleBracketed(args) => {
                                args.args.iter().find_map(|arg| match arg {
                                    GenericArgument::Type(ty) => Some(ty),
                                    _ => None,
                                })
                            }
                            _ => None,
                        };
                        Output::Fallible { ty, ok }
                    }
                    _ => Output::Plain(ty),
                }
            }
            _ => Output::Plain(ty),
        }
    }
}

impl<'a> HookFn<'a> {
    /// The view of a function.
    pub(crate) fn from_syn(original: &'a ItemFn) -> Self {
        HookFn {
            original,
            params: original.sig.inputs.iter().map(Param::from_syn).collect(),
            output: Output::from_syn(&original.sig.output),
        }
    }

    /// The function's name.
    pub(crate) fn ident(&self) -> &'a Ident {
        &self.original.sig.ident
    }

    /// The state an invalid `#[worker_init]` most likely meant: its
    /// `&mut T` parameter, else its return type without a reference, else a
    /// state it takes by value.
    pub(crate) fn init_state_hint(&self) -> Option<&'a Type> {
        let from_params = self.params.iter().find_map(|param| match param {
            Param::MutRef(_, state) => Some(*state),
            _ => None,
        });
        let returned = match &self.output {
            Output::Plain(ty) | Output::Fallible { ok: Some(ty), .. } => Some(*ty),
            _ => None,
        };
        let returned = returned.map(|ty| match ungroup(ty) {
            Type::Reference(reference) => &*reference.elem,
            ty => ty,
        });
        let by_value = match self.params.first() {
            Some(Param::Value(pat_type)) => Some(&*pat_type.ty),
            _ => None,
        };
        from_params
            .and_then(state_hint)
            .or_else(|| returned.and_then(state_hint))
            .or_else(|| by_value.and_then(by_value_state_hint))
    }

    /// The state an invalid `#[task]` or `#[worker_exit]` most likely meant:
    /// its first parameter, by reference or by value.
    pub(crate) fn first_param_state_hint(&self) -> Option<&'a Type> {
        match self.params.first()? {
            Param::MutRef(_, state) | Param::SharedRef(_, state) => state_hint(state),
            Param::Value(pat_type) => by_value_state_hint(&pat_type.ty),
            Param::Receiver(_) => None,
        }
    }

    /// The parentheses of the parameter list, where errors about a missing
    /// parameter point.
    pub(crate) fn parens_span(&self) -> Span {
        self.original.sig.paren_token.span.join()
    }
}

/// A type that may be a `#[worker_state]`, for the fallback impls of an
/// invalid hook: a path, not to a primitive or `std` type. A fallback impl
/// on a type of another crate would add rustc's orphan-rule error (E0117)
/// to the hook's own; those the macro can tell are left without one.
fn state_hint(ty: &Type) -> Option<&Type> {
    let ty = ungroup(ty);
    match ty {
        Type::Path(path) if path.qself.is_none() && foreign_path(&path.path).is_none() => Some(ty),
        _ => None,
    }
}

/// A parameter taken by value is the state only by guess (`fn(state:
/// Counter, x: u64)`), and as often an input (`fn(x: Vec<u8>, y: u64)`):
/// the guess is only taken for a path without generic arguments, as
/// `#[worker_state]` types are.
fn by_value_state_hint(ty: &Type) -> Option<&Type> {
    let ty = state_hint(ty)?;
    let Type::Path(path) = ty else { return None };
    path.path
        .segments
        .iter()
        .all(|segment| segment.arguments.is_none())
        .then_some(ty)
}

/// The primitive types, which no crate defines: `#[worker_state]` cannot be
/// on them.
const PRIMITIVES: &[&str] = &[
    "bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64",
    "i128", "isize", "f16", "f32", "f64", "f128",
];

/// Where a path surely names a type of another crate: `Some("primitive")`
/// for `u32`, `Some("std")` for `std::time::Duration` (or `core`, `alloc`).
/// `None` for any other path, which may be local.
pub(crate) fn foreign_path(path: &syn::Path) -> Option<&'static str> {
    let first = &path.segments.first()?.ident;
    if path.leading_colon.is_none() && path.segments.len() == 1 {
        return PRIMITIVES
            .iter()
            .any(|primitive| first == primitive)
            .then_some("primitive");
    }
    ["std", "core", "alloc"]
        .into_iter()
        .find(|krate| first == krate)
}

/// Looks through the invisible groups macro_rules! wraps around `$t:ty`.
pub(crate) fn ungroup(mut ty: &Type) -> &Type {
    while let Type::Group(group) = ty {
        ty = &group.elem;
    }
    ty
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn params_are_classified_by_how_they_are_passed() {
        let item: ItemFn = parse_quote! {
            fn f(a: &mut S, b: &WorkerContext, c: u32) {}
        };
        let hook = HookFn::from_syn(&item);
        assert!(matches!(hook.params[0], Param::MutRef(..)));
        assert!(matches!(hook.params[1], Param::SharedRef(..)));
        assert!(matches!(hook.params[2], Param::Value(..)));
        assert!(matches!(hook.output, Output::Unit));
    }

    #[test]
    fn any_path_ending_in_result_is_fallible() {
        for item in [
            parse_quote! { fn f() -> Result<u32, E> {} },
            parse_quote! { fn f() -> io::Result<u32> {} },
            parse_quote! { fn f() -> ::std::result::Result<u32, E> {} },
        ] {
            let item: ItemFn = item;
            let hook = HookFn::from_syn(&item);
            let Output::Fallible { ok: Some(ok), .. } = hook.output else {
                panic!("not fallible");
            };
            assert_eq!(quote::quote!(#ok).to_string(), "u32");
        }
        let item: ItemFn = parse_quote! { fn f() -> fmt::Result {} };
        assert!(matches!(
            HookFn::from_syn(&item).output,
            Output::Fallible { ok: None, .. }
        ));
        let item: ItemFn = parse_quote! { fn f() -> Vec<Result<u32, E>> {} };
        assert!(matches!(HookFn::from_syn(&item).output, Output::Plain(_)));
    }

    #[test]
    fn state_args_accept_pool_and_reject_the_rest() {
        let args = StateArgs::parse(quote::quote!(pool = Workers)).unwrap();
        assert_eq!(args.pool.unwrap(), "Workers");
        assert!(StateArgs::parse(TokenStream::new()).unwrap().pool.is_none());
        let err = StateArgs::parse(quote::quote!(name = Workers))
            .err()
            .unwrap();
        assert!(err.to_string().contains("`pool = Name`"), "{err}");
        let args = StateArgs::parse(quote::quote!(pool = P, shared = Vec<u8>)).unwrap();
        assert_eq!(args.pool.unwrap(), "P");
        let shared = args.shared.unwrap();
        assert_eq!(quote::quote!(#shared).to_string(), "Vec < u8 >");
        let args = StateArgs::parse(quote::quote!(shared = 3, pool = P)).unwrap();
        assert_eq!(args.pool.unwrap(), "P");
        let err = args.bad_shared.unwrap().to_string();
        assert!(err.starts_with("expected a type"), "{err}");
        let err = StateArgs::parse(quote::quote!(pool = "Workers"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("expected a type name"), "{err}");
    }
}
