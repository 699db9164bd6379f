/// The shell programs stamp writes into a build's work directory, embedded at build time.
///
/// Each lives as a file in `Sources/StampElements/Shell/` (checked by shellcheck in
/// `EmbeddedShellTests`), and the `EmbedShell` build plugin (`Plugins/EmbedShell`) turns each
/// into a string constant of this enum: `stage-driver.sh` is ``stageDriver``. The static binary
/// carries them; nothing is read from the repository or a resource bundle at run time.
///
/// ```
/// Shell/
///   stage-driver.sh              the stage driver, PID 1 of its namespaces (StageScript)
///   dib-run-parts.sh             runs one phase directory (RunParts)
///   lib-*.sh                     $_LIB/die, common-defaults, img-defaults, common-functions,
///                                img-functions (HostHelpers)
///   helper-*.sh                  helpers/sudo, chroot, stamp-tree-plain (HostHelpers)
///   bash-functions.sh            DIB's exported functions, through BASH_ENV (HostHelpers)
/// ```
enum EmbeddedShell {}
