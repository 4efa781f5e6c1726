"""Bulk import and export of numbers and routes (the API's `/v1/numbers/import`, `/v1/routes/import`, their
exports, and `trunkline numbers|routes import|export`).

- `reading.py`: the upload spooled to a capped temporary file, then read row by row (CSV or a JSON array).
- `report.py`: refused rows (row number, field, reason) and the answer of an import.
- `numbers.py`, `routes.py`: one import is one transaction: every row is checked, valid rows are inserted in
  batches of Core statements, and any refused row rolls everything back; one audit record with the count.
  Exports read in keyset pages, each in a short transaction of its own, and stream CSV or JSON.
"""
