"""RNN, LSTM, GRU and their Cell versions with torch parameter names."""

__all__: list[str] = []
