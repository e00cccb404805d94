"""newsletter: produce and deliver a daily bilingual email newsletter."""

__version__ = "0.1.0"
