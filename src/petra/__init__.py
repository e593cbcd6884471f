"""petra: Pose & Expression TRAnsfer between face images."""

__version__ = "0.1.0"
