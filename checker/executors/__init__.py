"""Where image jobs run: :mod:`.local` (this process or a pool of worker processes) and
:mod:`.dask` (an existing Dask cluster). Both call ``collect`` once per job with its result."""
