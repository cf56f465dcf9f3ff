"""The BibTeX of the papers instructerc implements and of the benchmarks it builds on: the dataset cards and
the erc metric cite them from here."""

INSTRUCTERC = """@article{lei2023instructerc,
  title={InstructERC: Reforming Emotion Recognition in Conversation with Multi-task Retrieval-Augmented Large Language Models},
  author={Lei, Shanglin and Dong, Guanting and Wang, Xiaoping and Wang, Keheng and Wang, Sirui},
  journal={arXiv preprint arXiv:2309.11911},
  year={2023}
}"""

# DialogueLLM and the three benchmarks
RELATED = """@article{zhang2023dialoguellm,
  title={DialogueLLM: Context and Emotion Knowledge-Tuned Large Language Models for Emotion Recognition in Conversations},
  author={Zhang, Yazhou and Wang, Mengyao and Wu, Youxi and Tiwari, Prayag and Li, Qiuchi and Wang, Benyou and Qin, Jing},
  journal={arXiv preprint arXiv:2310.11374},
  year={2023}
}
@article{busso2008iemocap,
  title={IEMOCAP: Interactive emotional dyadic motion capture database},
  author={Busso, Carlos and Bulut, Murtaza and Lee, Chi-Chun and Kazemzadeh, Abe and Mower, Emily and Kim, Samuel and Chang, Jeannette N and Lee, Sungbok and Narayanan, Shrikanth S},
  journal={Language Resources and Evaluation},
  volume={42}, number={4}, pages={335--359}, year={2008}
}
@inproceedings{poria2019meld,
  title={MELD: A Multimodal Multi-Party Dataset for Emotion Recognition in Conversations},
  author={Poria, Soujanya and Hazarika, Devamanyu and Majumder, Navonil and Naik, Gautam and Cambria, Erik and Mihalcea, Rada},
  booktitle={Proceedings of ACL}, pages={527--536}, year={2019}
}
@inproceedings{zahiri2018emorynlp,
  title={Emotion Detection on TV Show Transcripts with Sequence-based Convolutional Neural Networks},
  author={Zahiri, Sayyed M and Choi, Jinho D},
  booktitle={AAAI Workshop on Affective Content Analysis}, year={2018}
}"""

CITATIONS = INSTRUCTERC + "\n" + RELATED
