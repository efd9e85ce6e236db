"""One home per kind of job, each named for what it makes: takes, stems,
analysis. A kind's module holds what it sends its worker and keeps of the
answer; its rows and its turn in the queue are its store adapter's (store/takes.py,
store/stems.py, store/analyses.py), under the same name in `jobs.kind`."""
