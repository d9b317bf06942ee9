"""Many images at once: folders in, one mask for many, sweeps, in-process or on Ray.

- :mod:`~sparse_dip.batch.inputs`: files, folders and globs to a list of images and their outputs;
- :mod:`~sparse_dip.batch.executor`: one task per image, in this process or as Ray tasks;
- :mod:`~sparse_dip.batch.folder`: a folder's runs, the shared mask, skipping what is done;
- :mod:`~sparse_dip.batch.sweep`: images x methods x sparsities x seeds;
- :mod:`~sparse_dip.batch.summary`: ``summary.csv``/``.md`` and a sweep's ``results.csv``/``.md``.
"""
