fn main() -> std::process::ExitCode {
    sealift::cli::main()
}
