//! The macros that turn lists of test bodies into one `#[test]` per body and backend.
//! Shared by the signal and relay suites; each expects a `backends` module beside it.

/// `suite!(backend: module::body, …)`: one test per body on that backend.
macro_rules! suite {
    ($backend:ident: $($module:ident::$name:ident),* $(,)?) => {
        mod $backend {
            $( #[test] fn $name() { super::backends::$backend(super::$module::$name) } )*
        }
    };
}

/// One test per body on tokio, shuttle and turmoil: every backend but loom, whose models
/// must stay small.
macro_rules! suite_without_loom {
    ($($module:ident::$name:ident),* $(,)?) => {
        suite!(tokio: $($module::$name),*);
        suite!(shuttle: $($module::$name),*);
        suite!(turmoil: $($module::$name),*);
    };
}
