extension Settings {
    /// How much a command says: `-q` and `-v`, last in every command's help. What each command
    /// prints at each level is in docs/cli.md.
    static let console: [Setting] = [
        Setting(
            .quiet, .flag,
            help: "Print nothing but errors: no progress line, no log lines (the exit status tells the rest).",
            spellings: [
                .pack: Spelling(long: "quiet", short: "q"), .mkfs: Spelling(long: "quiet", short: "q"),
                .build: Spelling(long: "quiet", short: "q"),
                .images: Spelling(
                    long: "quiet", short: "q", help: "list: only each entry's key, one a line; prune: nothing but errors."),
                .convert: Spelling(long: "quiet", short: "q", help: "Print nothing but errors (no progress line)."),
                .inspect: Spelling(
                    long: "quiet", short: "q", help: "Print nothing: the exit status says whether the image reads."),
                .verify: Spelling(
                    long: "quiet", short: "q", help: "Print nothing: the exit status says whether the package checks out."),
            ],
            conflicts: [Conflict(.verbose, "choose one of -q and -v")], changesBytes: false),
        Setting(
            .verbose, .flag, help: "Also print what was written and how long each step took.",
            spellings: [
                .pack: Spelling(long: "verbose", short: "v"), .mkfs: Spelling(long: "verbose", short: "v"),
                .build: Spelling(
                    long: "verbose", short: "v", help: "Also print the build's debug lines (cache keys, each step)."),
                .images: Spelling(
                    long: "verbose", short: "v", help: "list: whole keys and digests instead of their first characters."),
                .convert: Spelling(long: "verbose", short: "v", help: "Also print what was read and written."),
                .inspect: Spelling(
                    long: "verbose", short: "v", help: "Also print the container's own fields (cluster size, dirty flag, …)."),
                .verify: Spelling(long: "verbose", short: "v", help: "Also print each member checked."),
            ],
            changesBytes: false),
    ]
}
