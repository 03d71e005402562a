"""The training data order: an endless, restorable stream of batches."""
import torch
from torch.utils.data import DataLoader


class BatchStream:
    """An endless stream of batches with an exact, restorable position.

    Epoch e visits ``draws`` (dataset indices, repeats allowed; default: every sample once) in the permutation
    drawn from ``seed`` and e; rank r of ``world`` takes its elements r, r + world, ... (DistributedSampler-style: no
    overlap, the tail that does not divide is dropped), so the ranks' batches of a step together are one slice of
    ``world * batch_size`` of the permuted list. ``position`` counts the batches delivered so far (drop_last, so
    every epoch has ``len(draws) // world // batch_size`` of them). Starting at a position
    skips to it without loading the skipped samples. ``reset()`` drops prefetched batches so the next ones are
    read afresh (after the labelled pool changed).
    """

    def __init__(self, dataset, batch_size, seed, num_workers=0, position=0, pin_memory=False, rank=0, world=1,
                 draws=None):
        self.dataset = dataset
        self.draws = torch.arange(len(dataset)) if draws is None else torch.as_tensor(draws, dtype=torch.long)
        self.batch_size = int(batch_size)
        self.rank, self.world = int(rank), int(world)
        self.per_epoch = len(self.draws) // self.world // self.batch_size
        if self.per_epoch == 0:
            raise ValueError(f"{dataset!r} has {len(self.draws)} draws per epoch, fewer than one batch of "
                             f"{self.batch_size} on each of {self.world} ranks")
        self.seed = int(seed)
        self.num_workers = int(num_workers)
        self.pin_memory = pin_memory
        self.position = int(position)
        self._it = None

    def _epoch_iterator(self):
        epoch, offset = divmod(self.position, self.per_epoch)
        perm = torch.randperm(len(self.draws), generator=torch.Generator().manual_seed(self.seed * 100003 + epoch))
        mine = self.draws[perm][self.rank::self.world]
        indices = mine[offset * self.batch_size: self.per_epoch * self.batch_size].tolist()
        loader = DataLoader(self.dataset, batch_size=self.batch_size, sampler=indices, drop_last=True,
                            num_workers=self.num_workers, pin_memory=self.pin_memory,
                            generator=torch.Generator().manual_seed(self.seed * 7919 + self.position))
        return iter(loader)

    def next(self):
        if self._it is None:
            self._it = self._epoch_iterator()
        try:
            batch = next(self._it)
        except StopIteration:
            self._it = self._epoch_iterator()
            batch = next(self._it)
        self.position += 1
        return batch

    def reset(self):
        self._it = None
