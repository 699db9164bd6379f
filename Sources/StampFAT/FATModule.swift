/// FAT12/16/32 volumes for the ESP; see FATVolume.swift.
public enum StampFATModule {}
