"""Language: from text to terms -- tokenizing, English and colloquial words, names, question
types."""
