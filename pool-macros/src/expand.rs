//! Code generation, and the entry points that run parse, validate and
//! generate in turn. Generated code names the runtime only through
//! `::statepool::__private` and `std` only through `::core`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Ident, Item, ItemFn, Type};

use crate::ast::{Attr, HookFn, Output, Param, StateArgs, StateItem};
use crate::valid::{self, ExitPlan, InitPlan, Pass, TaskPlan};

/// `#[worker_state]`.
pub(crate) fn worker_state(args: TokenStream, input: TokenStream) -> TokenStream {
    let item: Item = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(err) => return with_error(input, err),
    };
    let Some(state) = StateItem::from_syn(&item) else {
        return with_error(input, wrong_item(Attr::WorkerState, &item));
    };
    if let Err(err) = state.validate() {
        return with_error(input, err);
    }
    // A bad argument still gets the impls (with the default pool name and
    // no shared type), so uses of the state report nothing more.
    match StateArgs::parse(args) {
        Ok(args) => {
            let shared = match (&args.shared, args.bad_shared) {
                (Some(ty), _) => quote_spanned! {ty.span()=> #ty },
                // The error is the type: accepted wherever it is used.
                (None, Some(err)) => {
                    let err = err.into_compile_error();
                    quote! { <[(); #err] as ::statepool::__private::Unnamed>::Type }
                }
                (None, None) => quote! { () },
            };
            generate_state(&state, args.pool.as_ref(), &shared)
        }
        Err(err) => with_error(generate_state(&state, None, &quote! { () }), err),
    }
}

/// `#[worker_init]`.
pub(crate) fn worker_init(args: TokenStream, input: TokenStream) -> TokenStream {
    let generate = |hook: &HookFn<'_>| {
        let plan = hook.validate_init()?;
        Ok(generate_init(hook.original, &plan))
    };
    hook(Attr::WorkerInit, &args, input, generate, fallback_init)
}

/// `#[task]`.
pub(crate) fn task(args: TokenStream, input: TokenStream) -> TokenStream {
    let generate = |hook: &HookFn<'_>| {
        let plan = hook.validate_task()?;
        Ok(generate_task(hook.original, &plan))
    };
    hook(Attr::Task, &args, input, generate, fallback_task)
}

/// `#[worker_exit]`.
pub(crate) fn worker_exit(args: TokenStream, input: TokenStream) -> TokenStream {
    let generate = |hook: &HookFn<'_>| {
        let plan = hook.validate_exit()?;
        Ok(generate_exit(hook.original, &plan))
    };
    hook(Attr::WorkerExit, &args, input, generate, fallback_exit)
}

/// Parses and checks a function attribute; on error emits the function as
/// written (so its callers still resolve), and `fallback`'s tokens: the
/// errors, and an impl standing in for the one the function would have
/// generated.
fn hook(
    attr: Attr,
    args: &TokenStream,
    input: TokenStream,
    generate: impl FnOnce(&HookFn<'_>) -> syn::Result<TokenStream>,
    fallback: fn(&HookFn<'_>, syn::Error) -> TokenStream,
) -> TokenStream {
    let item: ItemFn = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(err) => {
            let err = match syn::parse2::<Item>(input.clone()) {
                Ok(item) => wrong_item(attr, &item),
                Err(_) => err,
            };
            return with_error(input, err);
        }
    };
    let args = valid::no_args(attr, args);
    let view = HookFn::from_syn(&item);
    match (generate(&view), args) {
        (Ok(generated), Ok(())) => generated,
        (Ok(generated), Err(err)) => with_error(generated, err),
        (Err(mut err), args) => {
            if let Err(args_err) = args {
                err.combine(args_err);
            }
            let fallback = fallback(&view, err);
            // rustc rejects variadic free functions itself: drop the `...`
            // so the mistake gives one error, ours.
            let mut item = item;
            item.sig.variadic = None;
            let mut tokens = item.into_token_stream();
            tokens.extend(fallback);
            tokens
        }
    }
}

fn with_error(mut tokens: TokenStream, error: syn::Error) -> TokenStream {
    tokens.extend(error.into_compile_error());
    tokens
}

/// The attribute is on the wrong kind of item: point at its keyword.
fn wrong_item(attr: Attr, item: &Item) -> syn::Error {
    let (span, kind) = match item {
        Item::Fn(item) => (item.sig.fn_token.span, "function"),
        Item::Struct(item) => (item.struct_token.span, "struct"),
        Item::Enum(item) => (item.enum_token.span, "enum"),
        Item::Union(item) => (item.union_token.span, "union"),
        Item::Trait(item) => (item.trait_token.span, "trait"),
        Item::Impl(item) => (item.impl_token.span, "impl block"),
        Item::Mod(item) => (item.mod_token.span, "module"),
        Item::Type(item) => (item.type_token.span, "type alias"),
        Item::Const(item) => (item.const_token.span, "const"),
        Item::Static(item) => (item.static_token.span, "static"),
        Item::Use(item) => (item.use_token.span, "use declaration"),
        other => (other.span(), "item of this kind"),
    };
    let target = match attr {
        Attr::WorkerState => "a struct or enum",
        _ => "a free function",
    };
    syn::Error::new(
        span,
        format!(
            "`{}` goes on {target}, not on a {kind}; expected {}",
            attr.name(),
            attr.expected()
        ),
    )
}

// Fallbacks, after thiserror's `fallback.rs`: an invalid hook's errors, and,
// where its signature names the state, a stub of the impl it would have
// generated, so that uses of the state do not report the same mistake again
// ("has no `#[task]`" at `pool.map(..)`, no `exit_results` method, "neither
// a `#[worker_init]` hook nor a `Default` impl"). The program does not
// compile, so the stubs' bodies never run.

/// The stub `WorkerInit` impl of an invalid `#[worker_init]`.
fn fallback_init(hook: &HookFn<'_>, error: syn::Error) -> TokenStream {
    let mut tokens = error.into_compile_error();
    if let Some(state) = hook.init_state_hint() {
        let body = stub_body(hook);
        tokens.extend(quote! {
            #[automatically_derived]
            impl ::statepool::__private::WorkerInit for #state {
                fn init(
                    _: &::statepool::__private::WorkerContext<Self::Shared>,
                ) -> ::core::result::Result<Self, ::statepool::__private::BoxError> {
                    #body
                }
            }
        });
    }
    tokens
}

/// The stub `Task` impl of an invalid `#[task]`: its input and output are
/// the written types where they can be named, so that `pool.map(..)`
/// checks its items against them, else the error type (see
/// [`FallbackErrors::unnamed_type`]).
fn fallback_task(hook: &HookFn<'_>, error: syn::Error) -> TokenStream {
    let Some(state) = hook.first_param_state_hint() else {
        return error.into_compile_error();
    };
    let mut errors = FallbackErrors::from(error);
    let generics = &hook.original.sig.generics;
    // A context taken by value or `&mut` is reported as such, not as an
    // input of the stub.
    let inputs: Vec<&Type> = hook
        .params
        .iter()
        .skip(1)
        .filter(|param| valid::context_type(param).is_none() && !valid::misses_context_ref(param))
        .filter_map(Param::ty)
        .collect();
    let named = !inputs.is_empty()
        && inputs
            .iter()
            .all(|ty| valid::nameable_outside(ty, generics));
    let mut input_type = if named {
        input_type(&inputs)
    } else {
        let unnamed = errors.unnamed_type();
        quote! { type Input<'input> = #unnamed; }
    };
    // A stub streams, so that `imap` reports nothing more.
    input_type.extend(quote! { type InputKind = ::statepool::__private::OwnedInput; });
    let output_type = match nameable_output(hook, generics) {
        Some(output) => output,
        // One error type serves both.
        None if !named => quote! { Self::Input },
        None => errors.unnamed_type(),
    };
    let assert = assert_worker_state(state);
    let bound = worker_state_bound(state);
    let body = stub_body(hook);
    let task = task_impl(
        state,
        &bound,
        &input_type,
        &output_type,
        (quote! { _ }, quote! { _ }),
        body,
    );
    errors.finish(quote! {
        #assert
        #task
    })
}

/// The stub `WorkerExit` impl of an invalid `#[worker_exit]`, its output
/// named as in [`fallback_task`].
fn fallback_exit(hook: &HookFn<'_>, error: syn::Error) -> TokenStream {
    let Some(state) = hook.first_param_state_hint() else {
        return error.into_compile_error();
    };
    let mut errors = FallbackErrors::from(error);
    let output_type =
        nameable_output(hook, &hook.original.sig.generics).unwrap_or_else(|| errors.unnamed_type());
    let assert = assert_worker_state(state);
    let bound = worker_state_bound(state);
    let body = stub_body(hook);
    let stub = quote! {
        #assert

        #[automatically_derived]
        impl ::statepool::__private::WorkerExit for #state where #bound {
            type Output = #output_type;

            fn exit(
                self,
                _: &::statepool::__private::WorkerContext<Self::Shared>,
            ) -> ::core::result::Result<Self::Output, ::statepool::__private::BoxError> {
                #body
            }
        }
    };
    errors.finish(stub)
}

/// The errors of an invalid hook, on their way into its fallback.
struct FallbackErrors(Vec<syn::Error>);

impl From<syn::Error> for FallbackErrors {
    fn from(error: syn::Error) -> Self {
        FallbackErrors(error.into_iter().collect())
    }
}

impl FallbackErrors {
    /// A type the stub cannot name (`impl Trait`, a borrow, a generic
    /// parameter, a missing input): `<[(); compile_error!(..)] as
    /// Unnamed>::Type`, spending one of the errors as the array's length.
    /// That makes it the compiler's error type, which every use accepts
    /// silently: the mistake reads once, where it was made.
    fn unnamed_type(&mut self) -> TokenStream {
        let error = self.0.remove(0).into_compile_error();
        quote! { <[(); #error] as ::statepool::__private::Unnamed>::Type }
    }

    /// The stub, then the errors not spent on its types.
    fn finish(self, stub: TokenStream) -> TokenStream {
        let mut tokens = stub;
        tokens.extend(self.0.into_iter().map(syn::Error::into_compile_error));
        tokens
    }
}

/// The written output as the stub's `Output`, where it can be named.
fn nameable_output(hook: &HookFn<'_>, generics: &syn::Generics) -> Option<TokenStream> {
    match &hook.output {
        Output::Unit => Some(output_type(&hook.output)),
        Output::Plain(ty) | Output::Fallible { ty, .. } => {
            valid::nameable_outside(ty, generics).then(|| output_type(&hook.output))
        }
    }
}

fn stub_body(hook: &HookFn<'_>) -> TokenStream {
    let message = format!(
        "`{}` did not compile: this impl only stands in for its own",
        hook.ident()
    );
    quote! { ::core::panic!(#message) }
}

/// `impl WorkerState` choosing init and exit by autoref specialization,
/// and the pool alias.
fn generate_state(
    state: &StateItem<'_>,
    pool: Option<&Ident>,
    shared: &TokenStream,
) -> TokenStream {
    let item = state.original;
    let ident = state.ident;
    let vis = state.vis;
    let span = ident.span();
    let pool = pool
        .cloned()
        .unwrap_or_else(|| format_ident!("{}Pool", ident));
    let doc = format!(
        "A pool of [`{ident}`] workers: `statepool::Pool<{ident}>`, named by `#[worker_state]`."
    );
    // Spanned on the state's name: "`S` has neither a `#[worker_init]` hook
    // nor a `Default` impl" points there.
    let start = quote_spanned! {span=>
        (&::statepool::__private::Probe::<Self>::NEW)
            .init_kind()
            .start_life::<Self>(ctx)
    };
    quote! {
        #item

        #[automatically_derived]
        impl ::statepool::__private::WorkerState for #ident {
            type Shared = #shared;

            fn start_life(
                ctx: &::statepool::__private::WorkerContext<Self::Shared>,
            ) -> ::core::result::Result<Self, ::statepool::__private::BoxError> {
                #[allow(unused_imports)]
                use ::statepool::__private::{InitViaDefault as _, InitViaHook as _};
                #start
            }

            fn end_life(
                self,
                ctx: &::statepool::__private::WorkerContext<Self::Shared>,
            ) -> ::core::result::Result<
                ::core::option::Option<::statepool::__private::ExitValue>,
                ::statepool::__private::BoxError,
            > {
                #[allow(unused_imports)]
                use ::statepool::__private::{ExitViaHook as _, ExitViaNone as _};
                (&::statepool::__private::Probe::<Self>::NEW)
                    .exit_kind()
                    .end_life(self, ctx)
            }

            fn end_life_in_place(
                &mut self,
                ctx: &::statepool::__private::WorkerContext<Self::Shared>,
            ) -> ::core::option::Option<
                ::core::result::Result<
                    ::core::option::Option<::statepool::__private::ExitValue>,
                    ::statepool::__private::BoxError,
                >,
            > {
                #[allow(unused_imports)]
                use ::statepool::__private::{ExitViaHook as _, ExitViaNone as _};
                (&::statepool::__private::Probe::<Self>::NEW)
                    .exit_kind()
                    .end_life_in_place(self, ctx)
            }

            fn exit_serializer(
            ) -> ::core::option::Option<::statepool::__private::ExitSerializer> {
                #[allow(unused_imports)]
                use ::statepool::__private::{ExitSerdeViaHook as _, ExitSerdeViaNone as _};
                (&::statepool::__private::Probe::<Self>::NEW).exit_serializer()
            }
        }

        #[doc = #doc]
        #vis type #pool = ::statepool::__private::Pool<#ident>;
    }
}

/// Asserts, spanned on the user's state type, that it has
/// `#[worker_state]`; emitted before the impl so that, for a foreign type,
/// this error comes before rustc's orphan-rule error. The impls repeat the
/// same bound as a `where` clause at the same span, so for a local type the
/// two identical errors are reported once.
fn assert_worker_state(state: &Type) -> TokenStream {
    let bound = worker_state_bound(state);
    quote_spanned! {state.span()=>
        const _: () = {
            #[allow(dead_code)]
            struct AssertWorkerState where #bound;
        };
    }
}

fn worker_state_bound(state: &Type) -> TokenStream {
    quote_spanned! {state.span()=> #state: ::statepool::__private::WorkerState }
}

/// Wraps a hook's return value into the `Result<_, BoxError>` of the trait.
fn wrap_output(output: &Output<'_>, call: TokenStream) -> TokenStream {
    match output {
        Output::Unit => quote! {
            #call;
            ::core::result::Result::Ok(())
        },
        Output::Plain(_) => quote! { ::core::result::Result::Ok(#call) },
        // Spanned on the written return type: a bad error type is reported
        // there.
        Output::Fallible { ty, .. } => {
            let wrap = quote_spanned! {ty.span()=> ::statepool::__private::fallible(output) };
            quote! {
                let output = #call;
                #wrap
            }
        }
    }
}

/// The written return type as an associated `Output` type.
fn output_type(output: &Output<'_>) -> TokenStream {
    match output {
        Output::Unit => quote! { () },
        Output::Plain(ty) => ty.to_token_stream(),
        Output::Fallible { ty, .. } => {
            quote_spanned! {ty.span()=> <#ty as ::statepool::__private::Fallible>::Ok }
        }
    }
}

/// `type Input<'input> = ..;` of a task: its one input, or a tuple of
/// several, every borrow in them made `'input` (`&str` is `&'input str`);
/// spanned on the written types, where an input that is not `Send` is
/// reported.
fn input_type(inputs: &[&Type]) -> TokenStream {
    let inputs: Vec<Type> = inputs.iter().map(|ty| with_input_lifetime(ty)).collect();
    match inputs.as_slice() {
        [one] => quote_spanned! {one.span()=> type Input<'input> = #one; },
        many => {
            let span = many[0].span().join(many[many.len() - 1].span());
            let span = span.unwrap_or_else(|| many[0].span());
            quote_spanned! {span=> type Input<'input> = (#(#many,)*); }
        }
    }
}

/// `ty` with every borrow but `'static` ones for `'input`: elided
/// references, `'_` and named lifetimes.
fn with_input_lifetime(ty: &Type) -> Type {
    struct Rename;
    impl VisitMut for Rename {
        fn visit_type_reference_mut(&mut self, reference: &mut syn::TypeReference) {
            let keep = reference
                .lifetime
                .as_ref()
                .is_some_and(|lifetime| lifetime.ident == "static");
            if !keep {
                let span = reference.and_token.span;
                reference.lifetime = Some(syn::Lifetime::new("'input", span));
            }
            visit_mut::visit_type_reference_mut(self, reference);
        }

        fn visit_lifetime_mut(&mut self, lifetime: &mut syn::Lifetime) {
            if lifetime.ident != "static" {
                *lifetime = syn::Lifetime::new("'input", lifetime.span());
            }
        }
    }
    let mut ty = ty.clone();
    Rename.visit_type_mut(&mut ty);
    ty
}

/// The context argument of a hook that takes `&C`: the state's context,
/// named as `C`; spanned on `C`, where a context of another shared type is
/// reported.
fn context_arg(ctx_ty: &Type, state: &Type) -> TokenStream {
    quote_spanned! {ctx_ty.span()=>
        <#ctx_ty as ::statepool::__private::HookContext<#state>>::of(ctx)
    }
}

/// The `Task` impl of `state`, whose `run` binds its input and context to
/// `pats` and runs `body`: the real one of a `#[task]`, and the stub of an
/// invalid one.
fn task_impl(
    state: impl ToTokens,
    bound: &TokenStream,
    input_type: &TokenStream,
    output_type: &TokenStream,
    pats: (TokenStream, TokenStream),
    body: TokenStream,
) -> TokenStream {
    let (input_pat, ctx_pat) = pats;
    quote! {
        #[automatically_derived]
        impl ::statepool::__private::Task for #state where #bound {
            #input_type
            type Output = #output_type;

            fn run(
                &mut self,
                #input_pat: Self::Input<'_>,
                #ctx_pat: &::statepool::__private::WorkerContext<Self::Shared>,
            ) -> ::core::result::Result<Self::Output, ::statepool::__private::BoxError> {
                #body
            }
        }
    }
}

fn generate_task(item: &ItemFn, plan: &TaskPlan<'_>) -> TokenStream {
    let TaskPlan {
        func,
        state,
        inputs,
        ctx,
        output,
    } = plan;
    let assert = assert_worker_state(state);
    let bound = worker_state_bound(state);
    let names: Vec<Ident> = (0..inputs.len())
        .map(|i| format_ident!("input_{}", i))
        .collect();
    let mut input_type = input_type(inputs);
    // Streaming calls run a task whose input borrows nothing.
    input_type.extend(if inputs.iter().any(|ty| valid::borrows(ty)) {
        quote! { type InputKind = ::statepool::__private::BorrowedInput; }
    } else {
        // The same value: it compiles because the input names no lifetime.
        quote! {
            type InputKind = ::statepool::__private::OwnedInput;
            #[inline]
            fn into_static(
                input: Self::Input<'_>,
            ) -> ::core::option::Option<Self::Input<'static>> {
                ::core::option::Option::Some(input)
            }
        }
    });
    let unpack = match inputs.as_slice() {
        [_] => quote! { let input_0 = input; },
        _ => quote! { let (#(#names,)*) = input; },
    };
    let output_type = output_type(output);
    let (ctx_pat, ctx_arg) = match ctx {
        Some(ty) => {
            let arg = context_arg(ty, state);
            (quote!(ctx), quote!(, #arg))
        }
        None => (quote!(_), TokenStream::new()),
    };
    let body = wrap_output(output, quote! { #func(self, #(#names),* #ctx_arg) });
    let task = task_impl(
        state,
        &bound,
        &input_type,
        &output_type,
        (quote! { input }, ctx_pat),
        quote! { #unpack #body },
    );
    quote! {
        #assert
        #item
        #task
    }
}

fn generate_init(item: &ItemFn, plan: &InitPlan<'_>) -> TokenStream {
    let InitPlan {
        func,
        state,
        fills,
        ctx,
        fallible,
    } = plan;
    let assert = assert_worker_state(state);
    let (ctx_param, ctx_arg) = match ctx {
        Some(ty) => (quote!(ctx), context_arg(ty, state)),
        None => (quote!(_), TokenStream::new()),
    };
    let comma = if ctx.is_some() {
        quote!(,)
    } else {
        TokenStream::new()
    };
    let body = if *fills {
        let start = quote_spanned! {state.span()=>
            <#state as ::statepool::__private::DefaultForInit>::default_for_init()
        };
        let fill = if let Some(ty) = fallible {
            let wrap = quote_spanned! {ty.span()=> ::statepool::__private::fallible(output) };
            quote! {
                let output = #func(&mut state #comma #ctx_arg);
                #wrap?;
            }
        } else {
            quote! { #func(&mut state #comma #ctx_arg); }
        };
        quote! {
            let mut state = #start;
            #fill
            ::core::result::Result::Ok(state)
        }
    } else if let Some(ty) = fallible {
        let wrap = quote_spanned! {ty.span()=> ::statepool::__private::fallible(output) };
        quote! {
            let output = #func(#ctx_arg);
            #wrap
        }
    } else {
        quote! { ::core::result::Result::Ok(#func(#ctx_arg)) }
    };
    quote! {
        #assert
        #item

        #[automatically_derived]
        impl ::statepool::__private::WorkerInit for #state {
            fn init(
                #ctx_param: &::statepool::__private::WorkerContext<Self::Shared>,
            ) -> ::core::result::Result<Self, ::statepool::__private::BoxError> {
                #body
            }
        }
    }
}

fn generate_exit(item: &ItemFn, plan: &ExitPlan<'_>) -> TokenStream {
    let ExitPlan {
        func,
        state,
        pass,
        ctx,
        output,
    } = plan;
    let assert = assert_worker_state(state);
    let bound = worker_state_bound(state);
    let (ctx_param, ctx_arg) = match ctx {
        Some(ty) => {
            let arg = context_arg(ty, state);
            (quote!(ctx), quote!(, #arg))
        }
        None => (quote!(_), TokenStream::new()),
    };
    let (receiver, state_arg) = match pass {
        Pass::Mut => (quote!(mut self), quote!(&mut self)),
        Pass::Shared => (quote!(self), quote!(&self)),
        Pass::Value => (quote!(self), quote!(self)),
    };
    let output_type = output_type(output);
    let body = wrap_output(output, quote! { #func(#state_arg #ctx_arg) });
    // A hook that borrows the state also runs on a borrowed state, so that
    // the pool drops the state itself, after keeping the hook's output.
    let in_place = match pass {
        Pass::Value => TokenStream::new(),
        Pass::Mut | Pass::Shared => {
            let borrowed = match pass {
                Pass::Shared => quote!(&*self),
                _ => quote!(self),
            };
            let body = wrap_output(output, quote! { #func(#borrowed #ctx_arg) });
            quote! {
                fn exit_in_place(
                    &mut self,
                    #ctx_param: &::statepool::__private::WorkerContext<Self::Shared>,
                ) -> ::core::option::Option<
                    ::core::result::Result<Self::Output, ::statepool::__private::BoxError>,
                > {
                    ::core::option::Option::Some({ #body })
                }
            }
        }
    };
    quote! {
        #assert
        #item

        #[automatically_derived]
        impl ::statepool::__private::WorkerExit for #state where #bound {
            type Output = #output_type;

            fn exit(
                #receiver,
                #ctx_param: &::statepool::__private::WorkerContext<Self::Shared>,
            ) -> ::core::result::Result<Self::Output, ::statepool::__private::BoxError> {
                #body
            }

            #in_place
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(f: fn(TokenStream, TokenStream) -> TokenStream, item: TokenStream) -> String {
        f(TokenStream::new(), item).to_string()
    }

    #[test]
    fn state_gets_an_impl_and_a_pool_alias_with_its_visibility() {
        let out = expand(
            worker_state,
            quote! { pub(crate) struct Counter { n: u64 } },
        );
        assert!(
            out.contains("impl :: statepool :: __private :: WorkerState for Counter"),
            "{out}"
        );
        assert!(out.contains("pub (crate) type CounterPool"), "{out}");
        let out = worker_state(quote!(pool = Workers), quote! { enum Mode { A } }).to_string();
        assert!(out.contains("type Workers"), "{out}");
    }

    #[test]
    fn a_bad_argument_still_emits_the_impls_once() {
        let out = worker_state(quote!(name = X), quote! { struct S; }).to_string();
        assert!(out.contains("type SPool"), "{out}");
        assert_eq!(out.matches("compile_error").count(), 1, "{out}");
    }

    #[test]
    fn errors_keep_the_item() {
        let out = expand(task, quote! { async fn f(s: &mut S, x: u32) {} });
        assert!(out.contains("async fn f"), "{out}");
        assert_eq!(out.matches("compile_error").count(), 1, "{out}");
        let out = expand(task, quote! { async fn f(x: u32) {} });
        assert!(out.contains("async fn f"), "{out}");
        assert_eq!(out.matches("compile_error").count(), 2, "{out}");
    }

    #[test]
    fn invalid_hooks_get_a_stub_impl_with_the_written_types() {
        let out = expand(
            task,
            quote! { async fn f(s: &mut S, a: u8, b: String) -> u8 { a } },
        );
        assert!(
            out.contains("impl :: statepool :: __private :: Task for S"),
            "{out}"
        );
        assert!(
            out.contains("type Input < 'input > = (u8 , String ,)"),
            "{out}"
        );
        assert!(out.contains("type Output = u8"), "{out}");
        assert!(!out.contains("Unnamed"), "{out}");
        // The state taken by value is the likely state.
        let out = expand(task, quote! { fn f(s: S, x: u32) {} });
        assert!(out.contains("Task for S"), "{out}");

        let out = expand(
            worker_exit,
            quote! { fn f(s: S, n: u8, m: u8) -> u64 { 1 } },
        );
        assert!(
            out.contains("impl :: statepool :: __private :: WorkerExit for S"),
            "{out}"
        );
        assert!(out.contains("type Output = u64"), "{out}");

        let out = expand(worker_init, quote! { fn f(s: S) {} });
        assert!(
            out.contains("impl :: statepool :: __private :: WorkerInit for S"),
            "{out}"
        );
    }

    #[test]
    fn unnamed_stub_types_spend_an_error() {
        // No input: the error is the input type, and the output is named.
        let out = expand(task, quote! { fn f(s: &mut S) -> u64 { 1 } });
        assert_eq!(out.matches("compile_error").count(), 1, "{out}");
        assert!(
            out.contains("type Input < 'input > = < [() ; :: core :: compile_error !"),
            "{out}"
        );
        assert!(out.contains("type Output = u64"), "{out}");
        // A generic input and output: one error serves both.
        let out = expand(task, quote! { fn f<T>(s: &mut S, x: T) -> T { x } });
        assert_eq!(out.matches("compile_error").count(), 1, "{out}");
        assert!(out.contains("type Output = Self :: Input"), "{out}");
        // A borrowed output, with another error left for the item.
        let out = expand(worker_exit, quote! { const fn f(s: &S) -> &str { "" } });
        assert_eq!(out.matches("compile_error").count(), 2, "{out}");
        assert!(
            out.contains("type Output = < [() ; :: core :: compile_error !"),
            "{out}"
        );
    }

    #[test]
    fn no_stub_where_the_state_is_unknown_or_foreign() {
        for item in [
            quote! { fn f(x: u32) -> u32 { x } },
            quote! { fn f(x: u32, y: u32) -> u32 { x } },
            quote! { fn f(x: Vec<u8>, y: u32) -> u32 { y } },
            quote! { fn f() -> u32 { 1 } },
            quote! { fn f(s: &mut u32) -> u32 { 1 } },
            quote! { fn f(s: &mut ::std::time::Duration) -> u32 { 1 } },
        ] {
            let out = expand(task, item);
            assert!(!out.contains("impl"), "{out}");
        }
        let out = expand(worker_exit, quote! { fn f(s: &mut u8, x: u8) {} });
        assert!(!out.contains("impl"), "{out}");
        let out = expand(worker_init, quote! { fn f(n: usize) {} });
        assert!(!out.contains("impl"), "{out}");
    }

    #[test]
    fn several_inputs_make_a_tuple() {
        let out = expand(
            task,
            quote! { fn f(s: &mut S, a: u8, b: String) -> u8 { a } },
        );
        assert!(
            out.contains("type Input < 'input > = (u8 , String ,)"),
            "{out}"
        );
        assert!(out.contains("f (self , input_0 , input_1)"), "{out}");
    }

    #[test]
    fn borrowed_inputs_borrow_for_the_input_lifetime_and_do_not_stream() {
        let out = expand(
            task,
            quote! { fn f(s: &mut S, a: &str, b: Cow<'_, [u8]>, c: &'static str) -> u8 { 1 } },
        );
        assert!(
            out.contains(
                "type Input < 'input > = (& 'input str , Cow < 'input , [u8] > , & 'static str ,)"
            ),
            "{out}"
        );
        assert!(
            out.contains("type InputKind = :: statepool :: __private :: BorrowedInput"),
            "{out}"
        );
        let out = expand(
            task,
            quote! { fn f(s: &mut S, a: &'static str) -> u8 { 1 } },
        );
        assert!(
            out.contains("type InputKind = :: statepool :: __private :: OwnedInput"),
            "{out}"
        );
    }

    #[test]
    fn contexts_are_passed_as_the_written_type() {
        let out = expand(
            task,
            quote! { fn f(s: &mut S, a: u8, ctx: &WorkerContext<Config>) -> u8 { a } },
        );
        assert!(
            out.contains("f (self , input_0 , < WorkerContext < Config > as :: statepool :: __private :: HookContext < S >> :: of (ctx))"),
            "{out}"
        );
        let out = worker_state(quote!(shared = Config), quote! { struct S; }).to_string();
        assert!(out.contains("type Shared = Config ;"), "{out}");
        let out = expand(worker_state, quote! { struct S; });
        assert!(out.contains("type Shared = () ;"), "{out}");
    }

    #[test]
    fn result_returns_are_fallible() {
        let out = expand(
            task,
            quote! { fn f(s: &mut S, a: u8) -> io::Result<u8> { Ok(a) } },
        );
        assert!(
            out.contains("< io :: Result < u8 > as :: statepool :: __private :: Fallible > :: Ok"),
            "{out}"
        );
        assert!(
            out.contains(
                "let output = f (self , input_0) ; :: statepool :: __private :: fallible (output)"
            ),
            "{out}"
        );
    }

    #[test]
    fn exit_hooks_that_borrow_the_state_also_run_in_place() {
        let out = expand(worker_exit, quote! { fn f(s: &mut S) -> u8 { 1 } });
        assert!(out.contains("fn exit_in_place"), "{out}");
        assert!(
            out.contains("Some ({ :: core :: result :: Result :: Ok (f (self)) })"),
            "{out}"
        );
        let out = expand(worker_exit, quote! { fn f(s: &S) -> u8 { 1 } });
        assert!(out.contains("Ok (f (& * self))"), "{out}");
        // By value, the hook owns the state and drops it itself.
        let out = expand(worker_exit, quote! { fn f(s: S) -> u8 { 1 } });
        assert!(!out.contains("exit_in_place"), "{out}");
        let out = expand(worker_state, quote! { struct S; });
        assert!(out.contains(". end_life_in_place (self , ctx)"), "{out}");
    }

    #[test]
    fn function_attributes_reject_other_items() {
        let out = expand(worker_exit, quote! { struct S; });
        assert!(
            out.contains("goes on a free function, not on a struct"),
            "{out}"
        );
    }
}
