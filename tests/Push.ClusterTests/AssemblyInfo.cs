// Each test class runs its own cluster of real processes and measures timings: one cluster at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
