//! `quantize`: the sinkquant command line. Parses flags, runs the command, prints the error
//! chain on one line and sets the exit code. The work is done by the `sinkquant` library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
