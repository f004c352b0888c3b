"""Files attached to records: streamed upload and download, sniffed type, a `FileStore`."""
