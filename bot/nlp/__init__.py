"""The jieba complaint classifier: pure Python, no Telegram."""

from bot.nlp.classifier import NONE, OTHER, Classifier, Reading
from bot.nlp.lexicon import LexiconError
from bot.nlp.location import Location

__all__ = ["NONE", "OTHER", "Classifier", "LexiconError", "Location", "Reading"]
