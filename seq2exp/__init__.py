"""seq2exp: the Random Promoter DREAM Challenge 2022 architectures as Keras models, end to end.

Importing the package is cheap (no TensorFlow import); sub-packages import it when needed.
"""
__version__ = "0.1.0"
