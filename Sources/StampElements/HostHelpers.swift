import Foundation
import StampConfig

/// What diskimage-builder's own elements expect from the host besides the build's
/// environment, written by stamp into the work directory (stamp's own implementations;
/// nothing here is DIB's code):
///
/// ```
/// stamp_build.XXXXXXXX/
///   lib/       _LIB: die, common-functions, img-functions, common-defaults, img-defaults,
///              chroot-dev (the chroot /dev of ChrootPolicy)
///   helpers/   first on PATH outside the chroot: sudo (stamp runs as root), chroot (into
///              the sandbox for a tree from an image), stamp-tree-plain
///   python/    a stand-in `diskimage_builder` package (logging_config.setup), put on
///              PYTHONPATH only when DIB_PYTHON_EXEC cannot import the real one
/// ```
///
/// Upstream element scripts run `sudo …` outside the chroot (debootstrap, dpkg, manifests…),
/// source `$_LIB/img-functions` or `$_LIB/common-functions` (select_boot_kernel_initrd,
/// mount_proc_dev_sys, unmount_dir, run_in_target, die), and run host python scripts such as
/// `package-installs-squash` that import `diskimage_builder.logging_config`.
enum HostHelpers {
    static func lib(_ work: WorkDirectory) -> URL { work.url.appendingPathComponent("lib") }
    static func helpers(_ work: WorkDirectory) -> URL { work.url.appendingPathComponent("helpers") }
    static func python(_ work: WorkDirectory) -> URL { work.url.appendingPathComponent("python") }

    static func write(into work: WorkDirectory) throws {
        let fm = FileManager.default
        func put(_ text: String, _ dir: URL, _ name: String, mode: Int = 0o644) throws {
            try fm.createDirectory(at: dir, withIntermediateDirectories: true)
            let file = dir.appendingPathComponent(name)
            try text.write(to: file, atomically: true, encoding: .utf8)
            try fm.setAttributes([.posixPermissions: mode], ofItemAtPath: file.path)
        }
        let lib = lib(work)
        try put(die, lib, "die")
        try put(EmbeddedShell.libChrootDev, lib, "chroot-dev")
        try put(commonDefaults, lib, "common-defaults")
        try put(imgDefaults, lib, "img-defaults")
        try put(commonFunctions, lib, "common-functions")
        try put(imgFunctions, lib, "img-functions")
        try put(sudo, helpers(work), "sudo", mode: 0o755)
        try put(treePlain, helpers(work), "stamp-tree-plain", mode: 0o755)
        try put(chroot, helpers(work), "chroot", mode: 0o755)
        let package = python(work).appendingPathComponent("diskimage_builder")
        try put("# stamp's stand-in for diskimage_builder (host python helpers of upstream elements)\n", package, "__init__.py")
        try put(loggingConfig, package, "logging_config.py")
    }

    /// The file, at the hooks root, that `BASH_ENV` names in and out of the chroot.
    static let bashFunctionsName = "stamp-functions.bash"

    /// DIB's exported shell functions (`get_image_element_array`, `die`, `_ps4`), defined again
    /// for every bash script through `BASH_ENV`.
    static func bashFunctions(elements: [(name: String, path: String)]) -> String {
        func quoted(_ text: String) -> String {
            "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }
        let pairs = elements.map { "[\($0.name)]=\(quoted($0.path))" }.joined(separator: " ")
        return EmbeddedShell.bashFunctions.replacingOccurrences(of: "@STAMP_ELEMENT_PAIRS@", with: quoted(pairs))
    }

    static let die = EmbeddedShell.libDie

    static let commonDefaults = EmbeddedShell.libCommonDefaults

    static let imgDefaults = EmbeddedShell.libImgDefaults
        .replacingOccurrences(of: "@STAMP_DEFAULT_ROOT_LABEL@", with: Settings.defaultRootLabel)

    static let commonFunctions = EmbeddedShell.libCommonFunctions

    static let imgFunctions = EmbeddedShell.libImgFunctions

    /// `sudo` for scripts outside the chroot: stamp already runs as root, so the command runs
    /// directly. Like sudo's default `env_reset`, the environment is reset unless `-E` /
    /// `--preserve-env` is given (upstream's `sudo chroot $TARGET_ROOT apt-get …` must not carry
    /// the build's TMPDIR, a host path, into the chroot).
    static let sudo = EmbeddedShell.helperSudo

    /// `stamp-tree-plain PATH…`: exits 0 when no existing component of any PATH (relative to
    /// the tree, `$TARGET_ROOT` or else `$TMP_MOUNT_PATH`) is a symbolic link or `..`. The
    /// built-in elements' scripts that edit the tree from outside the chroot check with it
    /// first: a tree from a container image may hold links to host paths, and those scripts
    /// run with the build's privileges on the host (docs/threat-model.md, rule 14). No
    /// program of the tree runs between the check and the edit.
    static let treePlain = EmbeddedShell.helperStampTreePlain

    /// `chroot` for scripts outside the chroot (`sudo chroot $TARGET_ROOT …`, as upstream
    /// elements write it): into a tree from a container image (`STAMP_SANDBOX` set) it enters
    /// stamp's sandbox instead (``Sandbox``), and into a directory inside that tree it is
    /// refused; anything else is the system's chroot.
    static let chroot = EmbeddedShell.helperChroot

    static let loggingConfig = #"""
        # stamp's stand-in for diskimage_builder.logging_config: log lines to stderr.
        import logging
        import os
        import sys


        def setup():
            level = logging.DEBUG if int(os.environ.get('DIB_DEBUG_TRACE', '0') or 0) > 0 else logging.INFO
            logging.basicConfig(stream=sys.stderr, level=level,
                                format='%(levelname)s %(name)s [-] %(message)s')
        """#
}
