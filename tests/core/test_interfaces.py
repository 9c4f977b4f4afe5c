

def test_clips_by_class_spreads_over_the_classes_whatever_the_order():
    import torch

    from pgvg_core.interfaces import Dataset, clips_by_class

    class Clips(Dataset):
        classes = ("a", "b", "c")
        resolution, frames = 32, 2

        def __init__(self, labels):
            self.labels = labels

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, index):
            return {"label": torch.tensor(self.labels[index])}

    data = Clips([2, 2, 0, 2, 1, 0, 1])
    assert clips_by_class(data, 3) == [2, 4, 0]  # the first clip of class 0, of 1, of 2
    assert clips_by_class(data, 5) == [2, 4, 0, 5, 6]  # then the second of each
    assert clips_by_class(data, 50) == [2, 4, 0, 5, 6, 1, 3]  # no more than there are
    from pgvg_data.synthetic import SyntheticActions

    synthetic = SyntheticActions(split="test", clips=30, render=False)
    assert [synthetic.label_of(i) for i in range(12)] == [int(synthetic[i]["label"]) for i in range(12)]
