//! The `seamless` binary: see `seamless --help`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
