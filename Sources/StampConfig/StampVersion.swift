/// stamp's version, the one number every front end prints (`stamp --version`,
/// `disk-image-create --version`). Raised by hand at a release.
public enum StampVersion {
    public static let number = "0.1.0"
}
