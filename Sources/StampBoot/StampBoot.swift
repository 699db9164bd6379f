/// Namespace placeholder; the module's code arrives with its issue.
public enum StampBootModule {}
