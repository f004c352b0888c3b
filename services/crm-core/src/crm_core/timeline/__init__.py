"""Each record's timeline: field-change history, deletion rules for what hangs on a
record, and the merged feed of changes, notes, tasks, activities and stage moves."""
