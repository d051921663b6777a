"""The five pipelines of the seed and their catalog (:mod:`axiom.pipelines.catalog`)."""
